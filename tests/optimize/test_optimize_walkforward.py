"""Walk-forward: splits, no test data in training, warm-up, stitching, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from optimize_data import candles_from_close, random_walk

import engine
from engine.optimize import backtest_window, make_space, make_splits, stitch, walk_forward
from ohlcv import Candles

SPACE = {"fast": "4:24:4", "slow": [30, 45, 60, 90]}


def test_rolling_and_anchored_splits_cover_the_end_without_overlap() -> None:
    roll = make_splits(10_000, 4, "rolling", ratio=3.0)
    anch = make_splits(10_000, 4, "anchored", ratio=3.0)
    for splits in (roll, anch):
        assert splits[-1].test_end == 10_000
        for a, b in itertools.pairwise(splits):
            assert a.test_end == b.test_start  # consecutive, non-overlapping tests
        assert all(s.train_end == s.test_start for s in splits)
    assert len({s.train_end - s.train_start for s in roll}) == 1
    assert {s.train_start for s in anch} == {anch[0].train_start}
    fixed = make_splits(10_000, 5, train_bars=3000, test_bars=1000)
    assert fixed[0].train_start == 2000 and fixed[-1].test_end == 10_000


def _poisoned(candles: Candles, start: int, seed: int) -> Candles:
    """The same bars before ``start``, a different (and wildly trending) market after."""
    rng = np.random.default_rng(seed)
    close = candles.close.copy()
    tail = close[start - 1] * np.exp(np.cumsum(rng.normal(0.001, 0.01, close.size - start)))
    close[start:] = tail
    return candles_from_close(close)


@pytest.mark.parametrize("mode", ["rolling", "anchored"])
def test_walk_forward_never_lets_test_data_into_training(mode: str) -> None:
    candles = random_walk(12_000, seed=11)
    space = make_space("ema_cross", SPACE)
    base = walk_forward(candles, space, "sharpe", n_splits=4, mode=mode)  # type: ignore[arg-type]
    for k, split in enumerate(base.splits):
        poisoned = _poisoned(candles, split.split.test_start, seed=100 + k)
        other = walk_forward(poisoned, space, "sharpe", n_splits=4, mode=mode)  # type: ignore[arg-type]
        # everything decided for split k read only bars before its test window
        assert other.splits[k].params == split.params
        assert other.splits[k].is_metrics == split.is_metrics
        # ... and the test window's result does change with the poisoned data
        assert other.splits[k].oos_metrics != split.oos_metrics


def test_oos_window_reads_nothing_after_it_and_starts_flat() -> None:
    candles = random_walk(6000, seed=4)
    params = {"fast": 8, "slow": 40}
    a = backtest_window(candles, "ema_cross", params, None, 3000, 4000)
    cut = candles.slice(0, 4000)
    b = backtest_window(cut, "ema_cross", params, None, 3000, 4000)
    assert a.metrics == b.metrics and a.equity.shape == (1000,)
    # flat at the open of the window: first trade enters after the window's first bar
    assert a.trades.size == 0 or a.trade_dicts()[0]["entry_index"] >= 1
    # indicators are warm: the first signal may come right after the window opens,
    # where a cold start would wait `slow` bars
    cold = engine.backtest(candles.slice(3000, 4000), "ema_cross", params)
    assert a.metrics["n_trades"] >= cold.metrics["n_trades"]


def test_oos_window_over_all_data_equals_a_plain_backtest() -> None:
    candles = random_walk(5000, seed=8)
    params = {"fast": 10, "slow": 50, "sl": 0.01}
    whole = backtest_window(candles, "ema_cross", params, None, 0, len(candles))
    plain = engine.backtest(candles, "ema_cross", {"fast": 10, "slow": 50}, sl=0.01)
    assert whole.metrics == plain.metrics


def test_stitched_equity_compounds_and_reports_efficiency_and_stability() -> None:
    assert np.allclose(stitch([np.array([110.0, 120.0]), np.array([90.0, 150.0])], 100.0),
                       [110.0, 120.0, 108.0, 180.0])
    candles = random_walk(12_000, seed=21)
    res = walk_forward(candles, make_space("ema_cross", SPACE), n_splits=3, ratio=2.0)
    total_test = sum(s.split.test_end - s.split.test_start for s in res.splits)
    assert res.oos_equity.shape == (total_test,) == res.oos_time.shape
    expected = np.prod([1 + s.oos_metrics["total_return"] for s in res.splits]) - 1
    assert res.oos_metrics["total_return"] == pytest.approx(expected)
    assert set(res.efficiency) == {"wfe_cagr", "wfe_sharpe"}
    assert set(res.stability) == {"fast", "slow"}
    assert len(res.stability["fast"]["values"]) == 3
    table = res.table()
    assert [r["split"] for r in table] == [1, 2, 3] and table[0]["params"] is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_splits": 1000}, "cannot hold"),
        ({"n_splits": 3, "train_bars": 1500, "test_bars": 200}, "cannot hold"),
        ({"n_splits": 10, "ratio": 0.5}, "warm-up"),
        ({"n_splits": 0}, "n_splits"),
    ],
)
def test_too_little_data_for_the_splits_is_a_clear_error(kwargs: dict, message: str) -> None:
    candles = random_walk(1600, seed=0)
    space = make_space("ema_cross", {"fast": [5], "slow": [100]})
    with pytest.raises(engine.EngineError, match=message):
        walk_forward(candles, space, **kwargs)
