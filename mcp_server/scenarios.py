"""Running the analyst's stress scenarios on the engine.

A scenario is a name plus parameters. Parameters that are execution options or
strategy parameters become backtest inputs (a list is a sweep); `gap_return`,
`volatility_multiplier` and `n_splits` transform or split the data (the
transforms are the engine's `with_gap` and `with_volatility`). Anything that
needs other data (a dated window, other symbols) is reported as not run.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

import engine as E
from mcp_server.candles import DataSet
from mcp_server.results import BacktestResults, headline

__all__ = ["ScenarioRun", "run_scenarios"]

_CONFIG_KEYS = set(E.BacktestConfig.model_fields)
_DATA_KEYS = {"gap_return", "at", "volatility_multiplier", "train_fraction", "n_splits"}
_MAX_VARIANTS = 6
_MAX_RUNS = 40
# A short list per run: 40 runs x 13 headline metrics would crowd the model's context.
_SCENARIO_METRICS = ("total_return", "max_drawdown", "sharpe", "n_trades", "profit_factor")

Progress = Callable[[float, float, str], Awaitable[None]]


class ScenarioRun(BaseModel):
    """One engine run of a scenario (or why it was not run)."""

    scenario: str
    variant: str = ""
    status: Literal["ran", "not_run", "failed"]
    reason: str | None = None
    id: str | None = None
    metrics: dict[str, float | int | None] | None = None


def _variants(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Cartesian product of list values (capped), scalars fixed."""
    keys = list(values)
    lists = [v if isinstance(v, list) else [v] for v in values.values()]
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.islice(itertools.product(*lists), _MAX_VARIANTS)
    ]


def _datasets(ds: DataSet, p: Mapping[str, Any]) -> list[tuple[str, DataSet]]:
    """The data a scenario runs on: as loaded, transformed, or split into segments."""
    if "gap_return" in p:
        c = E.with_gap(ds.candles, float(p["gap_return"]), str(p.get("at", "middle")))
        return [("", DataSet(c, ds.spec))]
    if "volatility_multiplier" in p:
        return [("", DataSet(E.with_volatility(ds.candles, float(p["volatility_multiplier"])), ds.spec))]
    if "n_splits" in p:
        k = max(2, min(int(p["n_splits"]), 10))
        size = len(ds.candles) // k
        return [
            (f"segment {j + 1}/{k}", DataSet(ds.candles.slice(j * size, (j + 1) * size), ds.spec))
            for j in range(k)
        ]
    return [("", ds)]


async def run_scenarios(
    results: BacktestResults,
    ds: DataSet,
    strategy: str,
    params: Mapping[str, Any],
    config: E.BacktestConfig,
    scenarios: list[dict[str, Any]],
    *,
    on_progress: Progress | None = None,
) -> list[ScenarioRun]:
    """Run every runnable scenario; one ScenarioRun per variant and data segment."""
    strat_keys = {p.name for p in E.get_strategy(strategy).params}
    runs: list[ScenarioRun] = []
    for n, sc in enumerate(scenarios):
        name = str(sc.get("name", f"scenario_{n}"))
        if on_progress is not None:
            await on_progress(n, len(scenarios), f"scenario {name}")
        p = dict(sc.get("parameters") or {})
        unknown = sorted(set(p) - _CONFIG_KEYS - strat_keys - _DATA_KEYS)
        if len(runs) >= _MAX_RUNS or unknown:
            reason = (
                "run limit reached" if not unknown
                else f"needs inputs this server cannot vary in one call: {', '.join(unknown)}"
            )  # fmt: skip
            runs.append(ScenarioRun(scenario=name, status="not_run", reason=reason))
            continue
        try:
            datasets = _datasets(ds, p)
        except (E.EngineError, ValueError, TypeError) as exc:  # a model-made value, not a bug
            runs.append(ScenarioRun(scenario=name, status="failed", reason=str(exc)[:200]))
            continue
        varying = {k: v for k, v in p.items() if k in _CONFIG_KEYS or k in strat_keys}
        for variant in _variants(varying):
            for segment, data in datasets:
                label = "; ".join(x for x in (", ".join(f"{k}={v}" for k, v in variant.items()), segment) if x)
                runs.append(await _one(results, data, strategy, params, config, variant, strat_keys, name, label))
    if on_progress is not None:
        await on_progress(len(scenarios), len(scenarios), "scenarios done")
    return runs


async def _one(
    results: BacktestResults,
    data: DataSet,
    strategy: str,
    params: Mapping[str, Any],
    config: E.BacktestConfig,
    variant: Mapping[str, Any],
    strat_keys: set[str],
    name: str,
    label: str,
) -> ScenarioRun:
    """One backtest of a scenario variant on one data set."""
    cfg_over = {k: v for k, v in variant.items() if k in _CONFIG_KEYS}
    par_over = {k: v for k, v in variant.items() if k in strat_keys}
    try:
        cfg = E.BacktestConfig(**{**config.model_dump(), **cfg_over})
        stored = await results.run(data, strategy, {**params, **par_over}, cfg, chart=False)
    except (E.EngineError, ValidationError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0][:200]
        return ScenarioRun(scenario=name, variant=label, status="failed", reason=reason)
    metrics = headline(stored.summary["metrics"])
    return ScenarioRun(
        scenario=name, variant=label, status="ran", id=stored.id,
        metrics={k: v for k, v in metrics.items() if k in _SCENARIO_METRICS},
    )  # fmt: skip
