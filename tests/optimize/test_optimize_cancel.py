"""Cancellation: a stopped run returns promptly with what it finished."""

from __future__ import annotations

import threading
import time

from optimize_data import random_walk

from engine.optimize import make_space, optimize_grid, walk_forward


def test_cancelled_grid_stops_within_a_second_and_keeps_its_results() -> None:
    candles = random_walk(60_000, seed=2)
    space = make_space("ema_cross", {"fast": "2:60", "slow": "61:160"})  # 5,900 combos
    stop = threading.Event()
    seen: list[int] = []
    stopped_at: list[float] = []

    def progress(done: int, total: int, phase: str) -> None:
        seen.append(done)
        if done > 0 and not stop.is_set():
            stopped_at.append(time.perf_counter())
            stop.set()

    result = optimize_grid(candles, space, progress=progress, should_stop=stop.is_set)
    latency = time.perf_counter() - stopped_at[0]
    assert result.cancelled
    assert 0 < len(result) < result.planned
    assert latency < 1.0
    assert result.overfit is None and "cancelled" in result.notes[0]
    assert result.best is not None


def test_cancelled_walk_forward_reports_the_finished_splits() -> None:
    candles = random_walk(12_000, seed=2)
    space = make_space("ema_cross", {"fast": "4:24:4", "slow": [30, 60]})
    calls: list[str] = []

    def progress(done: int, total: int, phase: str) -> None:
        calls.append(phase)

    res = walk_forward(candles, space, n_splits=4, progress=progress,
                       should_stop=lambda: any(p.startswith("split 3") for p in calls))
    assert res.cancelled and len(res.splits) == 2
    assert res.oos_equity.size == sum(s.split.test_end - s.split.test_start for s in res.splits)
