"""Distributed grid and random search: the pure maths of splitting and merging.

A search's combinations are cut into contiguous index chunks (`chunk_bounds`); each
chunk runs through `run_grid` anywhere (another thread, process or host) and yields
its statistics rows; `merge_search` concatenates them in chunk order and ranks them
with the same code as an in-process search. Each combination is computed on its own
(its own warm-up, no state shared across combinations), so the merged table equals a
single run's, bit for bit and in the same order. No I/O here: callers move the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from engine._nb.enums import N_STATS
from engine.config import BacktestConfig
from engine.errors import InvalidParameterError
from engine.optimize._grid import DEFAULT_MAX_COMBOS, grid_from_stats
from engine.optimize._objectives import Objective
from engine.optimize._run import (
    OptimizationResult,
    ProgressFn,
    SearchRun,
    finish_search,
    label_random,
    sample_combos,
)
from engine.optimize._search import SearchSpace
from engine.strategies import ParamValue
from ohlcv import Candles

__all__ = ["SearchMethod", "chunk_bounds", "merge_search", "search_combos"]

SearchMethod = Literal["grid", "random"]


def search_combos(
    space: SearchSpace,
    method: SearchMethod,
    *,
    n_samples: int = 0,
    seed: int = 0,
    max_combos: int = DEFAULT_MAX_COMBOS,
    allow_large: bool = False,
) -> list[dict[str, ParamValue]]:
    """The combinations a grid or random search evaluates, in the order it evaluates them
    (deterministic: the coordinator and every worker derive the same list)."""
    if method == "grid":
        return space.expand(max_combos=max_combos, allow_large=allow_large)
    return sample_combos(space, n_samples, seed)


def chunk_bounds(total: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` contiguous (start, stop) index ranges covering ``range(total)``, sizes
    differing by at most one; fewer when there are fewer combinations than chunks."""
    if total < 1:
        raise InvalidParameterError(f"nothing to split: {total} combinations")
    if chunks < 1:
        raise InvalidParameterError(f"the number of chunks must be >= 1, got {chunks}")
    n = min(chunks, total)
    size, extra = divmod(total, n)
    bounds = []
    start = 0
    for k in range(n):
        stop = start + size + (1 if k < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def merge_search(
    candles: Candles,
    space: SearchSpace,
    combos: Sequence[Mapping[str, ParamValue]],
    parts: Sequence[npt.NDArray[np.float64]],
    objective: str | Objective | Mapping[str, float] = "sharpe",
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    method: SearchMethod = "grid",
    min_trades: int = 0,
    n_samples: int = 0,
    seed: int = 0,
    overfit: bool = True,
    n_blocks: int = 16,
    progress: ProgressFn | None = None,
) -> OptimizationResult:
    """The ranked search result from every chunk's statistics rows, in chunk order: the
    same result `optimize_grid` / `optimize_random` give for ``combos`` in one run."""
    stats = np.concatenate(parts) if parts else np.empty((0, N_STATS))
    if stats.ndim != 2 or stats.shape[1] != N_STATS:
        raise InvalidParameterError(
            f"chunk statistics have shape {stats.shape}; each row must hold {N_STATS} values"
        )
    run = SearchRun.begin(space, objective, min_trades, config, progress, None, 0.25,
                          overfit, n_blocks, seed)  # fmt: skip
    grid = grid_from_stats(candles, space.strategy, combos, stats, run.config)
    result = finish_search(candles, grid, run, method=method, planned=len(combos))
    if method == "random":
        label_random(result, len(combos), n_samples, seed)
    return result
