"""Running the analyst's stress scenarios on the engine.

A scenario is a name plus parameters. Parameters that are execution options or
strategy parameters become backtest inputs (a list is a sweep); `gap_return`,
`volatility_multiplier` and `n_splits` transform or split the data (the
transforms are the engine's `with_gap` and `with_volatility`); `train_fraction`
is a real walk-forward: the strategy's parameters are re-optimised on every
train window and tested on the window after it. Anything that needs other data
(a dated window, other symbols) is reported as not run.

A scenario must be able to change the result to count as evidence: one that only
varies inputs the run ignores (funding hours with funding off, a maintenance margin
without liquidation, same-bar rules with no SL/TP) is listed as not applicable, a
variant equal to the baseline's inputs is not rerun, and a run that comes out
identical to the baseline is reported as having no effect, without metrics, so a
column of unchanged numbers never reads as a robust plateau.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
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

_WF_FACTORS = (0.6, 0.8, 1.0, 1.2, 1.4)

Progress = Callable[[float, float, str], Awaitable[None]]
Status = Literal["ran", "not_run", "not_applicable", "no_effect", "failed"]


class ScenarioRun(BaseModel):
    """One engine run of a scenario (or why it was not run)."""

    scenario: str
    variant: str | None = None
    status: Status
    reason: str | None = None
    id: str | None = None
    metrics: dict[str, float | int | None] | None = None


def _inert(key: str, cfg: Mapping[str, Any]) -> str | None:
    """Why varying config `key` cannot change a run with config `cfg` (None: it can)."""
    stop = bool(cfg["sl"] or cfg["trail"] or cfg["liquidation"])
    if key == "funding_hours" and not cfg["funding_rate"]:
        return "funding is off (funding_rate unset), so funding_hours changes nothing"
    if key == "maintenance_margin" and not cfg["liquidation"]:
        return "liquidation is off, so maintenance_margin changes nothing"
    if key == "same_bar" and not (cfg["tp"] and stop):
        return "same_bar only decides bars that touch both a take-profit and a stop; this run has not both"
    if key == "check_entry_bar" and not (cfg["tp"] or stop):
        return "check_entry_bar needs an SL, TP, trailing stop or liquidation; this run has none"
    if key == "trail_activation" and not cfg["trail"]:
        return "the trailing stop is off (trail=0), so trail_activation changes nothing"
    if key == "maker_fee" and not cfg["tp"]:
        return "maker_fee applies to take-profit fills; this run has no take-profit"
    return None


def _not_applicable(p: Mapping[str, Any], config: E.BacktestConfig) -> str | None:
    """Why a scenario varying `p` cannot change the result, when every input it varies is inert."""
    fixed = {k: v for k, v in p.items() if k in _CONFIG_KEYS and not isinstance(v, list)}
    cfg = {**config.model_dump(), **fixed}
    varied = [k for k in p if k not in ("at",)]
    reasons = [_inert(k, cfg) if k in _CONFIG_KEYS else None for k in varied]
    if varied and all(r is not None for r in reasons):
        return "; ".join(dict.fromkeys(r for r in reasons if r))
    return None


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
    baseline: Mapping[str, Any] | None = None,
    on_progress: Progress | None = None,
) -> list[ScenarioRun]:
    """Run every runnable scenario; one ScenarioRun per variant and data segment."""
    strat_keys = {p.name for p in E.get_strategy(strategy).params}
    base = Baseline(strategy, dict(params), config, strat_keys, dict(baseline or {}))
    runs: list[ScenarioRun] = []
    for n, sc in enumerate(scenarios):
        name = str(sc.get("name", f"scenario_{n}"))
        if on_progress is not None:
            await on_progress(n, len(scenarios), f"scenario {name}")
        p = dict(sc.get("parameters") or {})
        skip = _skip_reason(p, base, len(runs))
        if skip is not None:
            runs.append(ScenarioRun(scenario=name, status=skip[0], reason=skip[1]))
        elif "train_fraction" in p:
            runs.append(await _walk_forward(results, ds, base, name, p))
        else:
            runs += await _scenario_runs(results, ds, base, name, p)
    if on_progress is not None:
        await on_progress(len(scenarios), len(scenarios), "scenarios done")
    return runs


@dataclass(frozen=True)
class Baseline:
    """What every scenario varies from."""

    strategy: str
    params: dict[str, Any]
    config: E.BacktestConfig
    strat_keys: set[str]
    metrics: dict[str, Any]

    def same_inputs(self, variant: Mapping[str, Any]) -> bool:
        cfg = self.config.model_dump()
        return all(
            (cfg.get(k) if k in _CONFIG_KEYS else self.params.get(k)) == v for k, v in variant.items()
        )


def _skip_reason(p: Mapping[str, Any], base: Baseline, done: int) -> tuple[Status, str] | None:
    unknown = sorted(set(p) - _CONFIG_KEYS - base.strat_keys - _DATA_KEYS)
    if unknown:
        return "not_run", f"needs inputs this server cannot vary in one call: {', '.join(unknown)}"
    if done >= _MAX_RUNS:
        return "not_run", "run limit reached"
    inert = _not_applicable(p, base.config)
    return None if inert is None else ("not_applicable", inert)


async def _scenario_runs(
    results: BacktestResults, ds: DataSet, base: Baseline, name: str, p: Mapping[str, Any]
) -> list[ScenarioRun]:
    try:
        datasets = _datasets(ds, p)
    except (E.EngineError, ValueError, TypeError) as exc:  # a model-made value, not a bug
        return [ScenarioRun(scenario=name, status="failed", reason=str(exc)[:200])]
    transformed = datasets[0][1] is not ds
    varying = {k: v for k, v in p.items() if k in _CONFIG_KEYS or k in base.strat_keys}
    out = []
    for variant in _variants(varying):
        if not transformed and base.same_inputs(variant):
            continue  # the baseline itself: its metrics are already in the report
        for segment, data in datasets:
            label = "; ".join(x for x in (", ".join(f"{k}={v}" for k, v in variant.items()), segment) if x) or None
            run = await _one(results, data, base, variant, name, label)
            if not transformed and run.metrics is not None and _same(run.metrics, base.metrics):
                run = run.model_copy(update={"status": "no_effect", "metrics": None, "reason":
                    "identical to the baseline: this input does not change this run"})  # fmt: skip
            out.append(run)
    return out


def _same(metrics: Mapping[str, Any], baseline: Mapping[str, Any]) -> bool:
    return bool(baseline) and all(metrics.get(k) == baseline.get(k) for k in _SCENARIO_METRICS)


async def _one(
    results: BacktestResults,
    data: DataSet,
    base: Baseline,
    variant: Mapping[str, Any],
    name: str,
    label: str | None,
) -> ScenarioRun:
    """One backtest of a scenario variant on one data set."""
    cfg_over = {k: v for k, v in variant.items() if k in _CONFIG_KEYS}
    par_over = {k: v for k, v in variant.items() if k in base.strat_keys}
    try:
        cfg = E.BacktestConfig(**{**base.config.model_dump(), **cfg_over})
        stored = await results.run(data, base.strategy, {**base.params, **par_over}, cfg, chart=False)
    except (E.EngineError, ValidationError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0][:200]
        return ScenarioRun(scenario=name, variant=label, status="failed", reason=reason)
    return ScenarioRun(
        scenario=name, variant=label, status="ran", id=stored.id,
        metrics=_scenario_metrics(stored.summary["metrics"]),
    )  # fmt: skip


def _scenario_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in headline(metrics).items() if k in _SCENARIO_METRICS}


def _neighbourhood(strategy: str, params: Mapping[str, Any]) -> dict[str, list[float]]:
    """Values around each integer parameter (x0.6 .. x1.4) for the in-sample searches."""
    out: dict[str, list[float]] = {}
    for spec in E.get_strategy(strategy).params:
        v = params.get(spec.name)
        if spec.type != "int" or not isinstance(v, int | float) or v < 2:
            continue
        values = sorted({min(max(round(v * f), spec.low), spec.high) for f in _WF_FACTORS})
        if len(values) > 1:
            out[spec.name] = [float(x) for x in values]
    return out


async def _walk_forward(
    results: BacktestResults, ds: DataSet, base: Baseline, name: str, p: Mapping[str, Any]
) -> ScenarioRun:
    """Re-optimise on each train window, test on the next: the out-of-sample metrics."""
    grid = _neighbourhood(base.strategy, base.params)
    if not grid:
        return ScenarioRun(scenario=name, status="not_applicable",
                           reason=f"{base.strategy} has no integer parameter to re-optimise")  # fmt: skip
    frac = min(max(float(p["train_fraction"]), 0.5), 0.9)
    splits = max(2, min(int(p.get("n_splits", 5)), 10))
    try:
        space = E.make_space(base.strategy, grid, [])
        wf = await results.in_lane(lambda: E.walk_forward(
            ds.candles, space, "sharpe", base.config, n_splits=splits, ratio=frac / (1 - frac)))  # fmt: skip
    except (E.EngineError, ValueError) as exc:
        return ScenarioRun(scenario=name, status="failed", reason=str(exc).splitlines()[0][:200])
    wfe = wf.efficiency.get("wfe_sharpe")
    searched = ", ".join(f"{k} in {[int(v) for v in vals]}" for k, vals in grid.items())
    reason = (f"re-optimised {searched} by Sharpe on each of {len(wf.splits)} rolling train "
              f"windows ({frac:.0%} train / {1 - frac:.0%} test); metrics are the stitched "
              f"out-of-sample tests; walk-forward efficiency (Sharpe) = "
              f"{'null' if wfe is None else f'{wfe:.3g}'}")  # fmt: skip
    notes = [n for n in wf.notes if n.startswith("wfe_sharpe")]
    return ScenarioRun(
        scenario=name, variant="out of sample", status="ran",
        reason="; ".join([reason, *notes]), metrics=_scenario_metrics(wf.oos_metrics),
    )  # fmt: skip
