"""A grid or random search split into chunks and merged equals the in-process search,
bit for bit and in the same order, for every way of cutting it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from optimize_data import random_walk

from engine.errors import InvalidParameterError
from engine.optimize import (
    chunk_bounds,
    make_space,
    merge_search,
    optimize_grid,
    optimize_random,
    run_grid,
    search_combos,
)


def _chunk_stats(candles, space, combos, chunks):  # type: ignore[no-untyped-def]
    return [
        run_grid(candles, space.strategy, combos[a:b], None, allow_large=True).stats
        for a, b in chunk_bounds(len(combos), chunks)
    ]


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert json.dumps(a.table(), default=str) == json.dumps(b.table(), default=str)
    assert np.array_equal(a.scores, b.scores, equal_nan=True)
    assert a.combos == b.combos and a.metrics == b.metrics
    assert a.summary()["overfit"] == b.summary()["overfit"]


@pytest.mark.parametrize("chunks", [1, 2, 3, 7])
def test_merged_grid_equals_the_in_process_grid(chunks: int) -> None:
    candles = random_walk(6000, seed=11)
    space = make_space("sma_cross", {"fast": "4:20:4", "slow": [30, 50, 80]})
    whole = optimize_grid(candles, space, "sharpe", n_blocks=8)
    combos = search_combos(space, "grid")
    merged = merge_search(candles, space, combos, _chunk_stats(candles, space, combos, chunks),
                          "sharpe", n_blocks=8)  # fmt: skip
    _same(whole, merged)


def test_merged_random_search_equals_the_in_process_one() -> None:
    candles = random_walk(5000, seed=5)
    space = make_space("rsi", {"period": "5:30", "lower": "20:35:5", "upper": "60:80:5"})
    whole = optimize_random(candles, space, 40, "total_return", seed=9, overfit=False)
    combos = search_combos(space, "random", n_samples=40, seed=9)
    merged = merge_search(candles, space, combos, _chunk_stats(candles, space, combos, 4),
                          "total_return", method="random", n_samples=40, seed=9, overfit=False)  # fmt: skip
    _same(whole, merged)
    assert merged.extra == whole.extra == {"seed": 9}


def test_chunk_bounds_cover_every_index_once_in_order() -> None:
    for total in (1, 2, 7, 100, 101):
        for chunks in (1, 3, 8, 200):
            bounds = chunk_bounds(total, chunks)
            assert [i for a, b in bounds for i in range(a, b)] == list(range(total))
            sizes = [b - a for a, b in bounds]
            assert max(sizes) - min(sizes) <= 1 and len(bounds) == min(total, chunks)
    with pytest.raises(InvalidParameterError, match="chunks"):
        chunk_bounds(10, 0)


def test_merge_refuses_rows_that_do_not_match_the_combinations() -> None:
    candles = random_walk(3000, seed=1)
    space = make_space("sma_cross", {"fast": [5, 10], "slow": [30, 40]})
    combos = search_combos(space, "grid")
    parts = _chunk_stats(candles, space, combos, 2)[:1]
    with pytest.raises(InvalidParameterError, match="one row per combination"):
        merge_search(candles, space, combos, parts, overfit=False)
