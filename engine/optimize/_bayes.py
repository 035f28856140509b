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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numba

from engine.config import BacktestConfig
from engine.errors import InvalidParameterError
from engine.optimize._grid import GridResult, StopFn, run_grid
from engine.optimize._objectives import Objective
from engine.optimize._run import (
    OptimizationResult,
    ProgressFn,
    SearchRun,
    attach_overfit,
    sample_combos,
)
from engine.optimize._search import ParamRange, SearchSpace
from engine.strategies import ParamValue
from ohlcv import Candles


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
    run_batch: BatchFn | None = None,
) -> OptimizationResult:
    """Maximise the objective over ``space`` with ``n_trials`` TPE trials.

    ``batch_size`` trials (default 4 per core, at least 8) are evaluated at a
    time; repeated proposals reuse their earlier result instead of running
    again. Trials that break a constraint are told as failed and not counted.

    ``run_batch(combos, half)`` evaluates a batch elsewhere (e.g. on job workers) and
    returns its grid (``half``: on the first half of the data, for pruning); the sampler
    stays here, so the asks and tells, and the result, are those of a local run."""
    if n_trials < 1:
        raise InvalidParameterError(f"n_trials must be >= 1, got {n_trials}")
    run = SearchRun.begin(space, objective, min_trades, config, progress=progress,
                          should_stop=should_stop, chunk_seconds=0.25, overfit=overfit,
                          n_blocks=n_blocks, seed=seed)
    sample_combos(space, 1, seed)  # a clear error now if no combination is feasible
    batch = batch_size or max(8, 4 * numba.get_num_threads())
    seen = _search(candles, run, n_trials, batch, prune, run_batch or _local(candles, run))
    counts = seen.counts
    counts["repeated"] = max(0, seen.asks - counts["infeasible"] - counts["pruned"] - len(seen.combos))
    result = OptimizationResult(
        method="bayes", strategy=space.strategy.name, space=space.to_dict(), objective=run.objective,
        combos=seen.combos, metrics=seen.metrics, scores=run.objective.scores(seen.metrics),
        n_bars=len(candles), periods_per_year=candles.periods_per_year, elapsed_s=0.0,
        planned=n_trials, cancelled=seen.cancelled,
        extra={"seed": seed, "batch_size": batch, "asked": seen.asks, **counts},
    )
    if len(seen.combos) < n_trials and not seen.cancelled:
        result.notes.append(
            f"the space yielded only {len(seen.combos)} distinct feasible combinations for {n_trials} trials"
        )
    attach_overfit(result, candles, run)
    result.elapsed_s = time.perf_counter() - run.started
    return result


def _key(p: Mapping[str, ParamValue]) -> tuple[Any, ...]:
    return tuple(sorted(p.items()))


@dataclass
class _Seen:
    """What one Bayesian search has run and asked: every distinct combination once, in
    order, with its metrics; the asks, and those that ran nothing new."""

    combos: list[dict[str, ParamValue]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    index: dict[tuple[Any, ...], int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"pruned": 0, "infeasible": 0, "repeated": 0})
    asks: int = 0
    cancelled: bool = False

    def find(self, params: Mapping[str, ParamValue]) -> int | None:
        """Where ``params`` stands among the combinations run, None if it has not run."""
        return self.index.get(_key(params))

    def unknown(self, params: list[dict[str, ParamValue]]) -> list[dict[str, ParamValue]]:
        """The first of each combination in ``params`` that has not run yet, in order."""
        firsts: dict[tuple[Any, ...], dict[str, ParamValue]] = {}
        for p in params:
            if self.find(p) is None:
                firsts.setdefault(_key(p), p)
        return list(firsts.values())

    def add(self, g: GridResult) -> None:
        """Record a grid's combinations and metrics (and whether it was cancelled)."""
        for combo, m in zip(g.combos, g.metrics, strict=True):
            self.index[_key(combo)] = len(self.combos)
            self.combos.append(combo)
            self.metrics.append(m)
        self.cancelled = self.cancelled or g.cancelled


def _study(seed: int, n_trials: int, batch: int, prune: bool) -> Any:
    """A maximising optuna study: seeded TPE with a constant liar, median pruner if asked."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True,
                                             n_startup_trials=min(10, n_trials))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=batch) if prune else optuna.pruners.NopPruner()
    return optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)


#: run_batch(combos, half) -> the grid of ``combos`` (on the first half of the data if half)
BatchFn = Callable[[list[dict[str, ParamValue]], bool], GridResult]


def _local(candles: Candles, run: SearchRun) -> BatchFn:
    """Batches run here, through the grid kernel."""
    half = candles.slice(0, len(candles) // 2)

    def run_batch(combos: list[dict[str, ParamValue]], on_half: bool) -> GridResult:
        return run_grid(half if on_half else candles, run.space.strategy, combos, run.config,
                        should_stop=run.should_stop, max_combos=len(combos), allow_large=True)

    return run_batch


def _search(candles: Candles, run: SearchRun, n_trials: int, batch: int, prune: bool,
            run_batch: BatchFn) -> _Seen:
    """Ask, run and tell batches until ``n_trials`` distinct combinations have run, the
    space runs dry, the asks run out or the run is cancelled."""
    study = _study(run.seed, n_trials, batch, prune)
    dists = _distributions(run.space)
    seen = _Seen()
    stale = 0
    while len(seen.combos) < n_trials and seen.asks < 50 * n_trials:
        if run.should_stop is not None and run.should_stop():
            seen.cancelled = True
            break
        trials, params = _ask(study, dists, run.space, min(batch, n_trials - len(seen.combos)), seen)
        if not trials:
            continue
        if prune:
            trials, params = _prune(study, run_batch, run, trials, params, seen)
        todo = seen.unknown(params)
        # a small discrete space runs dry: stop once batches keep proposing known trials
        stale = 0 if todo else stale + 1
        if stale >= 10:
            _tell(study, trials, params, seen, run.objective)
            break
        if todo:
            seen.add(run_batch(todo, False))
        _tell(study, trials, params, seen, run.objective)
        run.report(min(len(seen.combos), n_trials), n_trials, "search")
        if seen.cancelled:
            break
    return seen


def _ask(study: Any, dists: dict[str, Any], space: SearchSpace, n: int,
         seen: _Seen) -> tuple[list[Any], list[dict[str, ParamValue]]]:
    """Ask ``n`` trials: the feasible ones with their full parameters; those that break a
    constraint are told FAIL at once and counted infeasible."""
    import optuna

    trials, params = [], []
    for _ in range(n):
        trial = study.ask(dists)
        seen.asks += 1
        p = {**space.strategy.defaults(), **trial.params}
        p = {k: (int(v) if space.spec(k).type == "int" else float(v)) for k, v in p.items()}
        if not space.allows(p):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            seen.counts["infeasible"] += 1
            continue
        trials.append(trial)
        params.append(p)
    return trials, params


def _tell(study: Any, trials: list[Any], params: list[dict[str, ParamValue]], seen: _Seen,
          obj: Objective) -> None:
    """Tell each trial its score; FAIL when it is not rankable or never ran (its batch
    was cancelled first), so the study holds no running trial."""
    import optuna

    for trial, p in zip(trials, params, strict=True):
        i = seen.find(p)
        score = math.nan if i is None else obj.score(seen.metrics[i])
        if math.isfinite(score):
            study.tell(trial, score)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _prune(study: Any, run_batch: BatchFn, run: SearchRun, trials: list[Any],
           params: list[dict[str, ParamValue]],
           seen: _Seen) -> tuple[list[Any], list[dict[str, ParamValue]]]:
    """Score new trials on the first half of the data; tell the pruner's losers PRUNED."""
    import optuna

    fresh = [k for k, p in enumerate(params) if seen.find(p) is None]
    if not fresh:
        return trials, params
    g = run_batch([params[k] for k in fresh], True)
    drop = set()
    for k, m in zip(fresh, g.metrics, strict=False):
        score = run.objective.score(m)
        if math.isfinite(score):
            trials[k].report(score, 0)
            if trials[k].should_prune():
                study.tell(trials[k], state=optuna.trial.TrialState.PRUNED)
                seen.counts["pruned"] += 1
                drop.add(k)
    keep = [k for k in range(len(trials)) if k not in drop]
    return [trials[k] for k in keep], [params[k] for k in keep]
