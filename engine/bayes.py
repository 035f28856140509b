"""Bayesian search with optuna's TPE sampler, evaluated in parallel batches.

optuna proposes a batch of trials (ask), the whole batch runs through the
grid kernel in parallel, and the scores are told back in order. With a fixed
seed the sequence of asks and tells is fixed, so a run is reproducible
whatever the number of cores. Pruning (optional) is multi-fidelity: a batch
is first scored on the first half of the data, the median pruner drops the
trials that trail there, and only the rest are run on all of it.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numba

from engine.backtest import make_config
from engine.candles import Candles
from engine.config import BacktestConfig
from engine.errors import InvalidParameterError
from engine.grid import run_grid
from engine.objectives import Objective, parse_objective
from engine.optimize import OptimizationResult, ProgressFn, StopFn, attach_overfit, sample_combos
from engine.search_space import ParamRange, SearchSpace
from engine.strategies import ParamValue


def _distributions(space: SearchSpace) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, dom in space.domains.items():
        kind = space.spec(name).type
        if not isinstance(dom, ParamRange):
            out[name] = CategoricalDistribution(sorted(set(space.grid_values()[name])))
        elif kind == "int":
            step = int(dom.step or 1)
            high = int(dom.low) + (int(dom.high) - int(dom.low)) // step * step
            out[name] = IntDistribution(int(dom.low), high, step=step)
        elif dom.step is None:
            out[name] = FloatDistribution(dom.low, dom.high)
        else:
            values = dom.values(kind, name)
            out[name] = FloatDistribution(dom.low, float(values[-1]), step=dom.step)
    return out


def optimize_bayes(
    candles: Candles,
    space: SearchSpace,
    n_trials: int = 100,
    objective: str | Objective | Mapping[str, float] = "sharpe",
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    prune: bool = False,
    min_trades: int = 0,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    overfit: bool = True,
    n_blocks: int = 16,
) -> OptimizationResult:
    """Maximise the objective over ``space`` with ``n_trials`` TPE trials.

    ``batch_size`` trials (default 4 per core, at least 8) are evaluated at a
    time; repeated proposals reuse their earlier result instead of running
    again. Trials that break a constraint are told as failed and not counted."""
    import optuna

    if n_trials < 1:
        raise InvalidParameterError(f"n_trials must be >= 1, got {n_trials}")
    started = time.perf_counter()
    obj = parse_objective(objective, min_trades)
    cfg = make_config(config)
    sample_combos(space, 1, seed)  # a clear error now if no combination is feasible
    batch = batch_size or max(8, 4 * numba.get_num_threads())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True,
                                             n_startup_trials=min(10, n_trials))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=batch) if prune else optuna.pruners.NopPruner()
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    dists = _distributions(space)
    half = candles.slice(0, len(candles) // 2) if prune else None
    combos: list[dict[str, ParamValue]] = []
    metrics: list[dict[str, Any]] = []
    index: dict[tuple[Any, ...], int] = {}
    counts = {"pruned": 0, "infeasible": 0, "repeated": 0}
    cancelled = False
    asks = 0
    stale = 0
    while len(combos) < n_trials and asks < 50 * n_trials:
        if should_stop is not None and should_stop():
            cancelled = True
            break
        trials, params = [], []
        for _ in range(min(batch, n_trials - len(combos))):
            trial = study.ask(dists)
            asks += 1
            p = {**space.strategy.defaults(), **trial.params}
            p = {k: (int(v) if space.spec(k).type == "int" else float(v)) for k, v in p.items()}
            if not space.allows(p):
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                counts["infeasible"] += 1
                continue
            trials.append(trial)
            params.append(p)
        if not trials:
            continue
        if half is not None:
            trials, params = _prune(study, half, space, obj, cfg, trials, params, index, counts,
                                    should_stop)
        new = [p for p in dict.fromkeys(_key(p) for p in params) if p not in index]
        todo = [next(q for q in params if _key(q) == k) for k in new]
        # a small discrete space runs dry: stop once batches keep proposing known trials
        stale = 0 if todo else stale + 1
        if stale >= 10:
            _tell_known(study, trials, params, index, metrics, obj)
            break
        if todo:
            g = run_grid(candles, space.strategy, todo, cfg, should_stop=should_stop,
                         max_combos=len(todo), allow_large=True)
            for combo, m in zip(g.combos, g.metrics, strict=True):
                index[_key(combo)] = len(combos)
                combos.append(combo)
                metrics.append(m)
            if g.cancelled:
                cancelled = True
        for trial, p in zip(trials, params, strict=True):
            i = index.get(_key(p))
            if i is None:  # its batch was cancelled before it ran
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            score = obj.score(metrics[i])
            study.tell(trial, score if math.isfinite(score) else None,
                       state=None if math.isfinite(score) else optuna.trial.TrialState.FAIL)
        if progress is not None:
            progress(min(len(combos), n_trials), n_trials, "search")
        if cancelled:
            break
    counts["repeated"] = max(0, asks - counts["infeasible"] - counts["pruned"] - len(combos))
    result = OptimizationResult(
        method="bayes", strategy=space.strategy.name, space=space.to_dict(), objective=obj,
        combos=combos, metrics=metrics, scores=obj.scores(metrics), n_bars=len(candles),
        periods_per_year=candles.periods_per_year, elapsed_s=0.0, planned=n_trials,
        cancelled=cancelled, extra={"seed": seed, "batch_size": batch, "asked": asks, **counts},
    )
    if len(combos) < n_trials and not cancelled:
        result.notes.append(
            f"the space yielded only {len(combos)} distinct feasible combinations for {n_trials} trials"
        )
    attach_overfit(result, candles, space, cfg, overfit=overfit, n_blocks=n_blocks, seed=seed,
                   progress=progress, should_stop=should_stop)
    result.elapsed_s = time.perf_counter() - started
    return result


def _tell_known(study: Any, trials: list[Any], params: list[dict[str, ParamValue]],
                index: dict[tuple[Any, ...], int], metrics: list[dict[str, Any]], obj: Objective) -> None:
    """Close the last batch's trials (all repeats) so the study holds no running trial."""
    import optuna

    for trial, p in zip(trials, params, strict=True):
        score = obj.score(metrics[index[_key(p)]])
        if math.isfinite(score):
            study.tell(trial, score)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _key(p: Mapping[str, ParamValue]) -> tuple[Any, ...]:
    return tuple(sorted(p.items()))


def _prune(study: Any, half: Candles, space: SearchSpace, obj: Objective, cfg: BacktestConfig,
           trials: list[Any], params: list[dict[str, ParamValue]], index: dict[tuple[Any, ...], int],
           counts: dict[str, int], should_stop: StopFn | None) -> tuple[list[Any], list[dict[str, ParamValue]]]:
    """Score new trials on the first half of the data; tell the pruner's losers PRUNED."""
    import optuna

    fresh = [k for k, p in enumerate(params) if _key(p) not in index]
    if not fresh:
        return trials, params
    g = run_grid(half, space.strategy, [params[k] for k in fresh], cfg, should_stop=should_stop,
                 max_combos=len(fresh), allow_large=True)
    drop = set()
    for k, m in zip(fresh, g.metrics, strict=False):
        score = obj.score(m)
        if math.isfinite(score):
            trials[k].report(score, 0)
            if trials[k].should_prune():
                study.tell(trials[k], state=optuna.trial.TrialState.PRUNED)
                counts["pruned"] += 1
                drop.add(k)
    keep = [k for k in range(len(trials)) if k not in drop]
    return [trials[k] for k in keep], [params[k] for k in keep]
