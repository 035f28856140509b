"""Property tests: the numba engine and the plain-Python reference agree trade for trade."""

from __future__ import annotations

import numpy as np
import pytest
from engine_reference import RefConfig, close_enough, simulate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine

T0 = 1_704_067_200_000


@st.composite
def market(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(min_value=3, max_value=60))
    seed = draw(st.integers(min_value=0, max_value=2**31 - 1))
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    gaps = rng.random(n) < 0.15  # some bars open away from the previous close
    open_ = np.concatenate(([100.0], close[:-1])) * np.where(gaps, np.exp(rng.normal(0, 0.03, n)), 1.0)
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.015, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.015, n)))
    sig = rng.random((n, 4)) < draw(st.sampled_from([0.05, 0.2, 0.5]))
    return open_, high, low, close, sig


options = st.fixed_dictionaries({
    "fill": st.sampled_from(["next_open", "close"]),
    "direction": st.sampled_from(["long", "short", "both"]),
    "sl": st.sampled_from([0.0, 0.01, 0.03]),
    "tp": st.sampled_from([0.0, 0.02, 0.05]),
    "trail": st.sampled_from([0.0, 0.015, 0.04]),
    "trail_activation": st.sampled_from([0.0, 0.01]),
    "same_bar": st.sampled_from(["stop_first", "tp_first", "ohlc_path"]),
    "check_entry_bar": st.booleans(),
    "fee": st.sampled_from([0.0, 0.00055, 0.002]),
    "maker_fee": st.sampled_from([None, 0.0002]),
    "slippage": st.sampled_from([0.0, 0.001]),
    "size": st.sampled_from([1.0, 0.5]),
    "leverage": st.sampled_from([1.0, 5.0, 20.0]),
    "liquidation": st.booleans(),
})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=market(), opts=options)
def test_engine_matches_reference(data: tuple[np.ndarray, ...], opts: dict) -> None:
    o, h, lo, c, sig = data
    n = len(c)
    candles = engine.make_candles(T0 + np.arange(n, dtype=np.int64) * 60_000, o, h, lo, c, np.ones(n), interval="1")
    result = engine.backtest_signals(
        candles, long_entry=sig[:, 0], long_exit=sig[:, 1], short_entry=sig[:, 2], short_exit=sig[:, 3], **opts
    )
    ref_cfg = RefConfig(
        fill_close=opts["fill"] == "close", direction=opts["direction"], sl=opts["sl"], tp=opts["tp"],
        trail=opts["trail"], trail_activation=opts["trail_activation"], check_entry_bar=opts["check_entry_bar"],
        same_bar=opts["same_bar"], fee=opts["fee"], maker_fee=opts["maker_fee"], slippage=opts["slippage"],
        size_fraction=opts["size"], leverage=opts["leverage"], liquidation=opts["liquidation"],
    )
    ref_trades, ref_equity = simulate(o, h, lo, c, [tuple(row) for row in sig], ref_cfg)
    got = result.trade_dicts()
    assert len(got) == len(ref_trades), (got, ref_trades)
    for g, r in zip(got, ref_trades, strict=True):
        assert (g["entry_index"], g["exit_index"]) == (r.entry_idx, r.exit_idx)
        assert g["side"] == ("long" if r.side == 1 else "short")
        assert g["exit_reason"] == r.reason
        assert close_enough(g["qty"], r.qty)
        assert close_enough(g["entry_price"], r.entry_price)
        assert close_enough(g["exit_price"], r.exit_price)
        assert close_enough(g["pnl"], r.pnl, 1e-7)
    np.testing.assert_allclose(result.equity, ref_equity, rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("strategy", list(engine.STRATEGIES))
def test_builtin_strategies_match_reference_on_their_own_signals(strategy: str) -> None:
    """Each built-in strategy's signals, replayed through the reference, give the same trades."""
    from engine.backtest import plan_signals
    from engine.strategies import LineTable

    candles = engine.sample_candles("ETHUSDT", "5", 3000, seed=7)
    strat = engine.get_strategy(strategy)
    table = LineTable(candles)
    plan = strat.plan(table, strat.defaults())
    mask = plan_signals(plan, table.build())
    sig = [((m & 1) > 0, (m & 2) > 0, (m & 4) > 0, (m & 8) > 0) for m in mask]
    opts = {"sl": 0.01, "tp": 0.02, "trail": 0.015, "fee": 0.00055}
    result = engine.backtest(candles, strategy, None, **opts)
    ref_trades, _ = simulate(
        candles.open, candles.high, candles.low, candles.close, sig,
        RefConfig(sl=0.01, tp=0.02, trail=0.015, fee=0.00055),
    )
    assert result.n_trades == len(ref_trades) > 0
    got = result.trade_dicts()
    assert [(t["entry_index"], t["exit_index"], t["exit_reason"]) for t in got] == [
        (t.entry_idx, t.exit_idx, t.reason) for t in ref_trades
    ]
