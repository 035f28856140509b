"""The parameter grid, the sample generator and resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine
import ohlcv
from ohlcv import Candles


@pytest.fixture(scope="module")
def candles() -> Candles:
    return engine.sample_candles("BTCUSDT", "5", 6000, seed=5)


def test_grid_equals_single_backtests(candles: Candles) -> None:
    grid = {"fast": [5, 10, 20], "slow": [10, 30, 60], "sl": [0.0, 0.01]}
    cfg = {"tp": 0.02, "trail": 0.015}
    res = engine.run_grid(candles, "ema_cross", grid, cfg)
    assert len(res) == 7 * 2  # 7 (fast, slow) pairs with fast < slow, times two stop-losses
    for combo, metrics in zip(res.combos, res.metrics, strict=True):
        params = {k: combo[k] for k in ("fast", "slow")}
        single = engine.backtest(candles, "ema_cross", params, **cfg, sl=combo["sl"]).metrics
        for key, value in metrics.items():
            if value is None:
                assert single[key] is None, key
            else:
                assert single[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_grid_progress_cancel_and_errors(candles: Candles) -> None:
    seen: list[tuple[int, int]] = []
    res = engine.run_grid(candles, "sma_cross", {"fast": [5, 10], "slow": [20, 40, 80]}, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (6, 6) and not res.cancelled
    stopped = engine.run_grid(candles, "sma_cross", {"fast": [5, 10], "slow": [20, 40, 80]}, should_stop=lambda: True)
    assert stopped.cancelled and len(stopped) == 0
    with pytest.raises(engine.InvalidParameterError, match="empty"):
        engine.run_grid(candles, "ema_cross", {"fast": []})
    with pytest.raises(engine.InvalidParameterError, match="no combination satisfies"):
        engine.run_grid(candles, "ema_cross", {"fast": [50], "slow": [10]})
    with pytest.raises(engine.GridTooLargeError, match="allow_large"):
        engine.run_grid(candles, "ema_cross", {"fast": range(2, 100), "slow": range(3, 200)}, max_combos=1000)


def test_grid_top_ranks(candles: Candles) -> None:
    res = engine.run_grid(candles, "rsi", {"period": [7, 14, 21], "lower": [25, 30]})
    top = res.top("sharpe", n=3)
    values = [r["sharpe"] for r in top if r["sharpe"] is not None]
    assert values == sorted(values, reverse=True)


def test_sample_is_deterministic_seeded_and_synthetic() -> None:
    a = engine.sample_candles("BTCUSDT", "15", 500, seed=1)
    b = engine.sample_candles("BTCUSDT", "15", 500, seed=1)
    c = engine.sample_candles("BTCUSDT", "15", 500, seed=2)
    assert a.synthetic and np.array_equal(a.close, b.close) and not np.array_equal(a.close, c.close)
    assert len(a) == 500 and np.all(np.diff(a.time) == 15 * 60_000)
    engine.validate_candles(a)
    raw = engine.generate_candles(100, interval_minutes=60, start_ms=1_704_067_200_000)
    assert set(raw) == {"time", "open", "high", "low", "close", "volume"} and len(raw["time"]) == 100


def test_sample_has_fat_tails_and_volatility_clustering() -> None:
    c = engine.sample_candles("BTCUSDT", "1", 200_000)
    r = np.diff(np.log(c.close))
    kurt = ((r - r.mean()) ** 4).mean() / r.var() ** 2
    assert kurt > 5  # a normal distribution has 3
    a = np.abs(r)
    lag1 = np.corrcoef(a[:-1], a[1:])[0, 1]
    assert lag1 > 0.1  # |returns| cluster
    assert (c.volume > 0).all()


@pytest.mark.parametrize("interval", ["5", "60", "D", "W", "M"])
def test_resample_matches_pandas(interval: str) -> None:
    base = engine.sample_candles("BTCUSDT", "1", 60_000, start_ms=1_704_500_000_000)
    got = ohlcv.resample(base, interval)
    rule = {"5": "5min", "60": "60min", "D": "1D", "W": "W-MON", "M": "MS"}[interval]
    df = pd.DataFrame({"open": base.open, "high": base.high, "low": base.low, "close": base.close, "volume": base.volume},
                      index=pd.to_datetime(base.time, unit="ms"))
    kw = {"label": "left", "closed": "left"}
    want = df.resample(rule, **kw).agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}).dropna()
    np.testing.assert_array_equal(got.time, want.index.astype("datetime64[ms]").astype(np.int64))
    np.testing.assert_allclose(got.close, want["close"])
    np.testing.assert_allclose(got.volume, want["volume"])


@pytest.mark.parametrize(
    "opts",
    [
        {"sl": 0.01, "tp": 0.02, "trail": 0.015},
        {"fill": "close", "direction": "long", "same_bar": "ohlc_path"},
        {"sl": 0.004, "leverage": 20.0, "liquidation": True, "check_entry_bar": False},
    ],
)
def test_cross_rule_read_in_the_kernel_equals_the_signal_mask(
    candles: Candles, opts: dict[str, object]
) -> None:
    """Cross strategies have the kernel compare the two lines itself; the result must
    be exactly what the separate signal pass and its bitmask give."""
    from engine._nb.backtest_nb import signal_start, simulate_nb
    from engine.backtest import make_config, plan_signals
    from engine.strategies import LineTable

    cfg = make_config(**opts)
    common = (candles.open, candles.high, candles.low, candles.close, np.zeros(0))
    tail = (engine.day_ends(candles), cfg.float_array(), cfg.int_array(False), True)
    none, no_sig = np.empty(0), np.empty(0, np.int8)
    for name, params in (("macd_cross", {"fast": 8, "slow": 21, "signal": 5}),
                         ("ema_cross", {"fast": 7, "slow": 30})):
        table = LineTable(candles)
        plan = engine.get_strategy(name).plan(table, params)
        lines = table.build()
        start = signal_start(plan.rule, plan.warmup)
        masked = simulate_nb(*common, plan_signals(plan, lines), none, none, none, 0, *tail)
        runs = [simulate_nb(*common, no_sig, lines[plan.rows[0]], lines[plan.rows[1]], none, start, *tail)]
        windows = table.ema_windows(plan)
        assert (windows is not None) == (name == "ema_cross")
        if windows is not None:  # the EMAs computed inside the kernel, no lines at all
            runs.append(simulate_nb(*common, no_sig, none, none, np.array(windows, float), start, *tail))
        for fused in runs:
            assert fused[3] == masked[3] > 10
            for got, want in zip(fused[:3], masked[:3], strict=True):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "opts",
    [
        {"sl": 0.01, "tp": 0.02, "trail": 0.015, "funding_rate": 0.0003, "funding_hours": 1},
        {"fill": "close", "direction": "long", "trail": 0.02, "trail_activation": 0.01},
        {"sl": 0.004, "leverage": 20.0, "liquidation": True, "slippage": 0.001, "funding_rate": -0.001},
    ],
)
def test_routine_bar_loop_equals_the_full_bar_body(candles: Candles, opts: dict[str, object]) -> None:
    """The kernel runs uneventful bars in a lean loop and hands every bar with an
    event to the full body, which also takes each day's last bar. Marking every
    bar a day end sends every bar through the full body: trades, equity and every
    statistic but the daily ones must come out bit for bit the same."""
    from engine._nb import enums as E
    from engine._nb.backtest_nb import signal_start, simulate_nb
    from engine.backtest import make_config, plan_signals
    from engine.config import funding_per_bar
    from engine.strategies import LineTable

    cfg = make_config(**opts)
    funding = funding_per_bar(candles.time, cfg)
    common = (candles.open, candles.high, candles.low, candles.close, funding)
    flags = (cfg.float_array(), cfg.int_array(bool(funding.any())), True)
    every_bar = np.arange(len(candles), dtype=np.int64)
    daily = {E.S_DAYS, E.S_DAY_RET_SUM, E.S_DAY_RET_SQ}
    none, no_sig = np.empty(0), np.empty(0, np.int8)
    table = LineTable(candles)
    plan = engine.get_strategy("ema_cross").plan(table, {"fast": 7, "slow": 30})
    lines = table.build()
    start = signal_start(plan.rule, plan.warmup)
    sources = {
        "in-kernel EMAs": (no_sig, none, none, np.array(table.ema_windows(plan), float), start),
        "two lines": (no_sig, lines[plan.rows[0]], lines[plan.rows[1]], none, start),
        "bitmask": (plan_signals(plan, lines), none, none, none, 0),
    }
    rsi = engine.get_strategy("rsi")
    rsi_table = LineTable(candles)
    sources["bitmask, rsi"] = (plan_signals(rsi.plan(rsi_table, rsi.resolve_params(None)), rsi_table.build()), none, none, none, 0)
    for name, src in sources.items():
        lean = simulate_nb(*common, *src, engine.day_ends(candles), *flags)
        full = simulate_nb(*common, *src, every_bar, *flags)
        assert lean[3] == full[3] > 10, name
        np.testing.assert_array_equal(lean[1], full[1], err_msg=name)
        np.testing.assert_array_equal(lean[2], full[2], err_msg=name)
        for k in range(E.N_STATS):
            if k not in daily:
                assert lean[0][k] == full[0][k], (name, k)
        if funding.any():
            assert lean[0][E.S_FUNDING] != 0.0, name


def test_ema_cross_with_more_trades_than_the_kernels_guess_falls_back_to_the_lines() -> None:
    """In-kernel EMAs size the trade buffer by a guess (n/8 + 1024); a market that
    crosses every bar overflows it, and the backtest reruns from the lines."""
    n = 12_000
    close = 100.0 + np.where(np.arange(n) % 2 == 0, 1.0, -1.0)  # a zig-zag: EMA 2 and 3 cross every bar
    t = 1_700_000_000_000 + 60_000 * np.arange(n)
    c = engine.make_candles(t, close, close + 0.5, close - 0.5, close, np.ones(n), interval="1")
    res = engine.backtest(c, "ema_cross", {"fast": 2, "slow": 3})
    assert res.n_trades > n // 8 + 1024
    mask = engine.backtest(c, "sma_cross", {"fast": 2, "slow": 3})  # a different rule still runs
    assert mask.n_trades > 0
    grid = engine.run_grid(c, "ema_cross", [{"fast": 2, "slow": 3}])
    assert grid.metrics[0]["n_trades"] == res.n_trades
