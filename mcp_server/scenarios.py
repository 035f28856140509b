"""Running the analyst's stress scenarios on the engine.

A scenario is a name plus parameters. Parameters that are execution options or
strategy parameters become backtest inputs (a list is a sweep); `gap_return`,
`volatility_multiplier` and `n_splits` transform or split the data. Anything
that needs other data (a dated window, other symbols) is reported as not run.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ValidationError

import engine as E
from mcp_server.backtests import headline
from mcp_server.data import DataSet

if TYPE_CHECKING:
    from mcp_server.state import AppState

__all__ = ["ScenarioRun", "run_scenarios"]

log = logging.getLogger("mcp_server.scenarios")

_CONFIG_KEYS = set(E.BacktestConfig.model_fields)
_DATA_KEYS = {"gap_return", "at", "volatility_multiplier", "train_fraction", "n_splits"}
_MAX_VARIANTS = 6
_MAX_RUNS = 40
# A short list per run: 40 runs x 13 headline metrics would crowd the model's context.
_SCENARIO_METRICS = ("total_return", "max_drawdown", "sharpe", "n_trades", "profit_factor")


class ScenarioRun(BaseModel):
    """One engine run of a scenario (or why it was not run)."""

    scenario: str
    variant: str = ""
    status: Literal["ran", "not_run", "failed"]
    reason: str | None = None
    id: str | None = None
    metrics: dict[str, float | int | None] | None = None


def _with_gap(candles: E.Candles, gap: float, at: str) -> E.Candles:
    """Every price from the chosen bar on multiplied by (1 + gap): a gap opening that bar."""
    i = {"start": 1, "end": len(candles) - 2}.get(at, len(candles) // 2)
    k = np.ones(len(candles))
    k[i:] = 1.0 + gap
    return _rebuild(candles, lambda p: p * k)


def _with_volatility(candles: E.Candles, mult: float) -> E.Candles:
    """Log-distance from the first close scaled by `mult` (monotonic, so OHLC order holds)."""
    c0 = float(candles.close[0])
    return _rebuild(candles, lambda p: c0 * np.power(p / c0, mult))


def _rebuild(candles: E.Candles, f: Callable[[np.ndarray], np.ndarray]) -> E.Candles:
    return E.make_candles(
        candles.time,
        f(candles.open),
        f(candles.high),
        f(candles.low),
        f(candles.close),
        candles.volume,
        symbol=candles.symbol,
        interval=candles.interval,
        synthetic=True,  # a transformed series is never market data
    )


def _variants(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Cartesian product of list values (capped), scalars fixed."""
    keys = list(values)
    lists = [v if isinstance(v, list) else [v] for v in values.values()]
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.islice(itertools.product(*lists), _MAX_VARIANTS)
    ]


async def run_scenarios(
    state: AppState,
    ds: DataSet,
    strategy: str,
    params: Mapping[str, Any],
    config: E.BacktestConfig,
    scenarios: list[dict[str, Any]],
    *,
    on_progress: Callable[[float, float, str], Awaitable[None]] | None = None,
) -> list[ScenarioRun]:
    """Run every runnable scenario; one ScenarioRun per variant."""
    strat_keys = {p.name for p in E.get_strategy(strategy).params}
    runs: list[ScenarioRun] = []
    total = len(scenarios)
    for n, sc in enumerate(scenarios):
        name = str(sc.get("name", f"scenario_{n}"))
        if on_progress is not None:
            await on_progress(n, total, f"scenario {name}")
        if len(runs) >= _MAX_RUNS:
            runs.append(ScenarioRun(scenario=name, status="not_run", reason="run limit reached"))
            continue
        p = dict(sc.get("parameters") or {})
        unknown = sorted(set(p) - _CONFIG_KEYS - strat_keys - _DATA_KEYS)
        if unknown:
            runs.append(
                ScenarioRun(
                    scenario=name,
                    status="not_run",
                    reason=f"needs inputs this server cannot vary in one call: {', '.join(unknown)}",
                )
            )
            continue
        datasets = [("", ds)]
        if "gap_return" in p:
            c = _with_gap(ds.candles, float(p["gap_return"]), str(p.get("at", "middle")))
            datasets = [("", DataSet(c, c.fingerprint(), ds.spec))]
        elif "volatility_multiplier" in p:
            c = _with_volatility(ds.candles, float(p["volatility_multiplier"]))
            datasets = [("", DataSet(c, c.fingerprint(), ds.spec))]
        elif "n_splits" in p:
            k = max(2, min(int(p["n_splits"]), 10))
            size = len(ds.candles) // k
            datasets = []
            for j in range(k):
                c = ds.candles.slice(j * size, (j + 1) * size)
                datasets.append((f"segment {j + 1}/{k}", DataSet(c, c.fingerprint(), ds.spec)))
        varying = {key: v for key, v in p.items() if key in _CONFIG_KEYS or key in strat_keys}
        for variant in _variants(varying):
            cfg_over = {k: v for k, v in variant.items() if k in _CONFIG_KEYS}
            par_over = {k: v for k, v in variant.items() if k in strat_keys}
            label = ", ".join(f"{k}={v}" for k, v in variant.items())
            for seg, data in datasets:
                vlabel = "; ".join(x for x in (label, seg) if x)
                try:
                    cfg = E.BacktestConfig(**{**config.model_dump(), **cfg_over})
                    stored = await state.backtests.run(
                        data.spec, strategy, {**params, **par_over}, cfg, chart=False, dataset=data
                    )
                except (E.EngineError, ValidationError, ValueError, TypeError) as exc:
                    msg = str(exc).splitlines()[0][:200]
                    runs.append(
                        ScenarioRun(scenario=name, variant=vlabel, status="failed", reason=msg)
                    )
                    continue
                runs.append(
                    ScenarioRun(
                        scenario=name,
                        variant=vlabel,
                        status="ran",
                        id=stored.id,
                        metrics={
                            k: v
                            for k, v in headline(stored.summary["metrics"]).items()
                            if k in _SCENARIO_METRICS
                        },
                    )
                )
    if on_progress is not None:
        await on_progress(total, total, "scenarios done")
    return runs
