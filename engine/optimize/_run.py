"""Grid and random search over a strategy's parameters, ranked by an objective.

Both evaluate their combinations through :func:`engine.run_grid` (parallel
numba kernel, one indicator line per distinct window), so progress callbacks
and cancellation behave the same: a cancelled search returns the combinations
it finished, ranked, with ``cancelled=True``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.backtest import make_config
from engine.config import BacktestConfig
from engine.errors import InvalidParameterError
from engine.optimize._grid import DEFAULT_MAX_COMBOS, GridResult, StopFn, run_grid
from engine.optimize._objectives import Objective, parse_objective
from engine.optimize._report import OverfitReport, overfit_report
from engine.optimize._search import SearchSpace
from engine.strategies import ParamValue
from ohlcv import Candles

#: progress(done, total, phase): phase is "search", "overfit", or "split k/n"
ProgressFn = Callable[[int, int, str], None]

TABLE_METRICS = ("sharpe", "sortino", "calmar", "total_return", "max_drawdown",
                 "profit_factor", "win_rate", "n_trades")


@dataclass
class OptimizationResult:
    """Every evaluated combination with its metrics and objective score."""

    method: str
    strategy: str
    space: dict[str, Any]
    objective: Objective
    combos: list[dict[str, ParamValue]]
    metrics: list[dict[str, Any]]
    scores: npt.NDArray[np.float64]
    n_bars: int
    periods_per_year: float
    elapsed_s: float
    planned: int
    cancelled: bool = False
    overfit: OverfitReport | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.combos)

    def ranking(self) -> list[int]:
        """Indices of rankable combinations, best score first (ties: input order)."""
        ok = [i for i in range(len(self.scores)) if math.isfinite(self.scores[i])]
        return sorted(ok, key=lambda i: -self.scores[i])

    @property
    def best_index(self) -> int | None:
        order = self.ranking()
        return order[0] if order else None

    @property
    def best(self) -> dict[str, Any] | None:
        """The best row (params, score, metrics) or None if nothing was rankable."""
        i = self.best_index
        return None if i is None else self.row(i, full=True)

    def row(self, i: int, *, full: bool = False) -> dict[str, Any]:
        """One table row: params, score and the headline (or every) metric."""
        m = self.metrics[i]
        keys = m.keys() if full else TABLE_METRICS
        return {"params": dict(self.combos[i]), "score": float(self.scores[i]),
                **{k: m[k] for k in keys}}

    def top(self, n: int = 10) -> list[dict[str, Any]]:
        """The ``n`` best rankable combinations."""
        return [{"rank": r + 1, **self.row(i)} for r, i in enumerate(self.ranking()[:n])]

    def table(self) -> list[dict[str, Any]]:
        """Every combination, ranked ones first (unrankable score NaN → None)."""
        order = self.ranking()
        rest = [i for i in range(len(self.combos)) if i not in set(order)]
        rows = []
        for r, i in enumerate(order + rest):
            row = self.row(i)
            row["rank"] = r + 1 if r < len(order) else None
            if not math.isfinite(row["score"]):
                row["score"] = None
            rows.append(row)
        return rows

    def summary(self, top_n: int = 10) -> dict[str, Any]:
        """JSON-safe summary: best, top-N, overfitting statistics, run facts."""
        return {
            "method": self.method,
            "strategy": self.strategy,
            "space": self.space,
            "objective": self.objective.to_dict(),
            "evaluated": len(self.combos),
            "planned": self.planned,
            "rankable": len(self.ranking()),
            "cancelled": self.cancelled,
            "elapsed_s": round(self.elapsed_s, 4),
            "bars": self.n_bars,
            "best": self.best,
            "top": self.top(top_n),
            "overfit": None if self.overfit is None else self.overfit.to_dict(),
            "notes": list(self.notes),
            **self.extra,
        }


@dataclass(frozen=True)
class SearchRun:
    """One search's checked settings, shared by every step of it: what it varies and
    maximises, the backtest options, the callbacks, and how the overfitting report is made."""

    space: SearchSpace
    objective: Objective
    config: BacktestConfig
    progress: ProgressFn | None
    should_stop: StopFn | None
    chunk_seconds: float
    overfit: bool
    n_blocks: int
    seed: int
    started: float

    @classmethod
    def begin(
        cls, space: SearchSpace, objective: str | Objective | Mapping[str, float], min_trades: int,
        config: BacktestConfig | Mapping[str, Any] | None, progress: ProgressFn | None,
        should_stop: StopFn | None, chunk_seconds: float, overfit: bool, n_blocks: int, seed: int,
    ) -> SearchRun:
        """Start the clock and check the objective and the options (clear errors now)."""
        started = time.perf_counter()
        obj = parse_objective(objective, min_trades)
        cfg = make_config(config)
        return cls(space, obj, cfg, progress, should_stop, chunk_seconds, overfit, n_blocks, seed,
                   started)

    def report(self, done: int, total: int, phase: str) -> None:
        """Tell the progress callback, if there is one."""
        if self.progress is not None:
            self.progress(done, total, phase)


def evaluate(
    candles: Candles, combos: Sequence[Mapping[str, ParamValue]], run: SearchRun, *, method: str
) -> OptimizationResult:
    """Run ``combos`` through the grid kernel, score them, and attach the report."""
    space, total = run.space, len(combos)

    def grid_progress(done: int, tot: int) -> None:
        run.report(done, tot, "search")

    g = run_grid(candles, space.strategy, combos, run.config, progress=grid_progress,
                 should_stop=run.should_stop, chunk_seconds=run.chunk_seconds,
                 max_combos=max(total, 1), allow_large=True)
    return finish_search(candles, g, run, method=method, planned=total)


def finish_search(
    candles: Candles, g: GridResult, run: SearchRun, *, method: str, planned: int
) -> OptimizationResult:
    """Score a grid's rows and attach the overfitting report: shared by the in-process
    search and the merge of a distributed one, so both give the same table."""
    space, objective = run.space, run.objective
    result = OptimizationResult(
        method=method, strategy=space.strategy.name, space=space.to_dict(), objective=objective,
        combos=g.combos, metrics=g.metrics, scores=objective.scores(g.metrics),
        n_bars=len(candles), periods_per_year=candles.periods_per_year,
        elapsed_s=0.0, planned=planned, cancelled=g.cancelled,
    )
    attach_overfit(result, candles, run)
    result.elapsed_s = time.perf_counter() - run.started
    return result


def attach_overfit(result: OptimizationResult, candles: Candles, run: SearchRun) -> None:
    """Compute the overfitting report unless disabled, cancelled or empty."""
    if result.cancelled:
        result.notes.append(
            f"cancelled after {len(result.combos)} of {result.planned} combinations; "
            "overfitting statistics skipped"
        )
        return
    if not run.overfit or not result.combos:
        return
    if result.best_index is None:
        result.notes.append(
            f"no combination met the objective (min_trades={result.objective.min_trades}); "
            "lower min_trades or widen the ranges"
        )
    run.report(0, 1, "overfit")
    result.overfit = overfit_report(
        candles, run.space.strategy, result.combos, result.metrics, result.best_index, run.config,
        n_blocks=run.n_blocks, seed=run.seed, should_stop=run.should_stop,
    )
    run.report(1, 1, "overfit")


def optimize_grid(
    candles: Candles,
    space: SearchSpace,
    objective: str | Objective | Mapping[str, float] = "sharpe",
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    min_trades: int = 0,
    max_combos: int = DEFAULT_MAX_COMBOS,
    allow_large: bool = False,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    chunk_seconds: float = 0.25,
    overfit: bool = True,
    n_blocks: int = 16,
    seed: int = 0,
) -> OptimizationResult:
    """Evaluate every combination of ``space`` (constraints applied) and rank them.

    More than ``max_combos`` combinations raise :class:`GridTooLargeError`
    unless ``allow_large``; ``overfit=False`` skips the overfitting report
    (which costs about one more pass over the data)."""
    run = SearchRun.begin(space, objective, min_trades, config, progress, should_stop,
                          chunk_seconds, overfit, n_blocks, seed)
    combos = space.expand(max_combos=max_combos, allow_large=allow_large)
    return evaluate(candles, combos, run, method="grid")


def sample_combos(space: SearchSpace, n: int, seed: int) -> list[dict[str, ParamValue]]:
    """Up to ``n`` distinct random combinations satisfying every constraint."""
    if n < 1:
        raise InvalidParameterError(f"the number of samples must be >= 1, got {n}")
    rng = random.Random(seed)
    seen: dict[tuple[Any, ...], dict[str, ParamValue]] = {}
    attempts = max(1000, 50 * n)
    for _ in range(attempts):
        combo = space.sample(rng)
        if space.allows(combo):
            seen.setdefault(tuple(combo[k] for k in sorted(combo)), combo)
            if len(seen) >= n:
                break
    if not seen:
        raise InvalidParameterError(
            f"no combination in {attempts} random draws satisfies the constraints "
            f"({space.constraint_text()}); widen the ranges or relax the constraints"
        )
    return list(seen.values())


def optimize_random(
    candles: Candles,
    space: SearchSpace,
    n_samples: int,
    objective: str | Objective | Mapping[str, float] = "sharpe",
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    min_trades: int = 0,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    chunk_seconds: float = 0.25,
    overfit: bool = True,
    n_blocks: int = 16,
) -> OptimizationResult:
    """Evaluate ``n_samples`` distinct random combinations (seeded) and rank them."""
    run = SearchRun.begin(space, objective, min_trades, config, progress, should_stop,
                          chunk_seconds, overfit, n_blocks, seed)
    combos = sample_combos(space, n_samples, seed)
    result = evaluate(candles, combos, run, method="random")
    return label_random(result, len(combos), n_samples, seed)


def label_random(
    result: OptimizationResult, found: int, n_samples: int, seed: int
) -> OptimizationResult:
    """A random search's own notes and facts (the seed), on the ranked result."""
    if found < n_samples:
        result.notes.append(
            f"only {found} distinct valid combinations found for {n_samples} samples"
        )
    result.extra["seed"] = seed
    return result
