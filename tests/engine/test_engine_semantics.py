"""One test per execution rule of shared/specs/engine-semantics.md, on hand-built bars."""

from __future__ import annotations

import numpy as np
import pytest
from engine_bars import MIN, T0, bars, flat, run, signals

import engine

P = 100.0


def only_trade(result: engine.BacktestResult) -> dict:
    trades = result.trade_dicts()
    assert len(trades) == 1, trades
    return trades[0]


# 1. Fills -------------------------------------------------------------------

def test_signal_fills_at_next_open() -> None:
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (105, 106, 104, 105), (110, 111, 109, 110)]
    r = run(rows, signals(4, le=[1]))
    t = only_trade(r)
    assert t["entry_index"] == 2 and t["entry_price"] == 105
    assert t["exit_reason"] == "end" and t["open"] is True


def test_fill_close_fills_at_signal_bar_close() -> None:
    rows = [(100, 101, 99, 100), (100, 103, 99, 102), (105, 106, 104, 105)]
    r = run(rows, signals(3, le=[1]), fill="close")
    t = only_trade(r)
    assert t["entry_index"] == 1 and t["entry_price"] == 102


# 2. Orders at the open before intrabar stops; reversal ----------------------

def test_reversal_at_open_does_not_test_old_stop_on_that_bar() -> None:
    # long from bar 1 open (100) with SL 5 % -> 95; bar 3 opens 100 and its low 90
    # touches the old stop, but the reversal decided at bar 2's close happens first.
    rows = [flat(1)[0], (100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 90, 92), (92, 93, 91, 92)]
    r = run(rows, signals(5, le=[0], se=[2]), sl=0.05)
    trades = r.trade_dicts()
    assert [t["exit_reason"] for t in trades] == ["signal", "end"]
    assert trades[0]["exit_index"] == 3 and trades[0]["exit_price"] == 100
    assert trades[1]["side"] == "short" and trades[1]["entry_index"] == 3
    assert trades[1]["entry_price"] == 100


def test_long_only_closes_on_short_signal() -> None:
    rows = flat(2) + [(100, 101, 99, 100)] * 3
    r = run(rows, signals(5, le=[0], se=[2]), direction="long")
    t = only_trade(r)
    assert t["side"] == "long" and t["exit_index"] == 3 and t["exit_reason"] == "signal"


def test_short_only_ignores_long_entries() -> None:
    rows = flat(5)
    r = run(rows, signals(5, le=[0], se=[2]), direction="short")
    t = only_trade(r)
    assert t["side"] == "short" and t["entry_index"] == 3


# 3. SL/TP relative to the fill (after slippage) ------------------------------

def test_sl_tp_are_fractions_of_actual_fill_price() -> None:
    rows = [(100, 100, 100, 100), (100, 100, 100, 100), (100, 102.9, 100, 102), (102, 102, 102, 102)]
    r = run(rows, signals(4, le=[0]), tp=0.02, slippage=0.01)
    # fill = 101, so TP = 103.02: the bar's high 102.9 does not reach it
    t = only_trade(r)
    assert t["entry_price"] == pytest.approx(101.0)
    assert t["exit_reason"] == "end"
    r2 = run(rows, signals(4, le=[0]), tp=0.018, slippage=0.01)
    t2 = only_trade(r2)
    assert t2["exit_reason"] == "tp" and t2["exit_price"] == pytest.approx(101 * 1.018)


# 4. Entry-bar checks ----------------------------------------------------------

def test_take_profit_hit_on_entry_bar() -> None:
    rows = [(100, 100, 100, 100), (100, 103, 99.5, 101), (101, 101, 101, 101)]
    r = run(rows, signals(3, le=[0]), tp=0.02)
    t = only_trade(r)
    assert t["exit_index"] == 1 and t["exit_reason"] == "tp" and t["exit_price"] == pytest.approx(102)


def test_entry_bar_check_can_be_disabled() -> None:
    rows = [(100, 100, 100, 100), (100, 103, 99.5, 101), (101, 101, 101, 101)]
    r = run(rows, signals(3, le=[0]), tp=0.02, check_entry_bar=False)
    assert only_trade(r)["exit_reason"] == "end"


# 5. Same-bar rule -------------------------------------------------------------

AMBIG_BULL = [(100, 100, 100, 100), (100, 100, 100, 100), (100, 103, 97, 102), (102, 102, 102, 102)]
AMBIG_BEAR = [(100, 100, 100, 100), (100, 100, 100, 100), (100, 103, 97, 98), (98, 98, 98, 98)]


@pytest.mark.parametrize(
    ("rows", "rule", "side_signal", "expected"),
    [
        (AMBIG_BULL, "stop_first", "le", "sl"),
        (AMBIG_BULL, "tp_first", "le", "tp"),
        (AMBIG_BULL, "ohlc_path", "le", "sl"),  # bullish: O-L-H-C, low first
        (AMBIG_BEAR, "ohlc_path", "le", "tp"),  # bearish: O-H-L-C, high first
        (AMBIG_BULL, "ohlc_path", "se", "tp"),  # short: low first is its take-profit
        (AMBIG_BEAR, "ohlc_path", "se", "sl"),
        (AMBIG_BEAR, "stop_first", "se", "sl"),
    ],
)
def test_same_bar_rule_and_ambiguous_count(rows, rule, side_signal, expected) -> None:  # type: ignore[no-untyped-def]
    sig = signals(4, **{side_signal: [1]})
    r = run(rows, sig, sl=0.02, tp=0.02, same_bar=rule)
    t = only_trade(r)
    assert t["exit_index"] == 2 and t["exit_reason"] == expected
    assert r.metrics["n_ambiguous_bars"] == 1


# 6. Gaps ----------------------------------------------------------------------

def test_stop_gapped_through_fills_at_open() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (90, 91, 89, 90), (90, 90, 90, 90)]
    r = run(rows, signals(4, le=[0]), sl=0.05)
    t = only_trade(r)
    assert t["exit_reason"] == "sl" and t["exit_price"] == 90
    assert r.metrics["n_ambiguous_bars"] == 0


def test_take_profit_gap_fills_at_better_open() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (110, 111, 109, 110), (110, 110, 110, 110)]
    r = run(rows, signals(4, le=[0]), tp=0.05, sl=0.05)
    t = only_trade(r)
    assert t["exit_reason"] == "tp" and t["exit_price"] == 110


def test_short_stop_gap_fills_at_open_with_slippage() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (110, 111, 109, 110), (110, 110, 110, 110)]
    r = run(rows, signals(4, se=[0]), sl=0.05, slippage=0.001)
    t = only_trade(r)
    assert t["exit_reason"] == "sl" and t["exit_price"] == pytest.approx(110 * 1.001)


# 7. Trailing stop without look-ahead ------------------------------------------

def test_trailing_stop_uses_peak_as_of_open() -> None:
    # entry 100, trail 5 %: bar 2 makes a new high 110 and dips to 103; the stop as
    # it stood at the open was 95, so no exit on bar 2. Bar 3's stop is 104.5.
    rows = [flat(1)[0], (100, 100, 100, 100), (104, 110, 103, 108), (108, 108, 104, 105), (105, 105, 105, 105)]
    r = run(rows, signals(5, le=[0]), trail=0.05)
    t = only_trade(r)
    assert t["exit_index"] == 3 and t["exit_reason"] == "trail"
    assert t["exit_price"] == pytest.approx(104.5)


def test_trail_activation_delays_trailing() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (100, 102, 99, 101), (101, 101, 96.5, 97), (97, 97, 97, 97)]
    plain = run(rows, signals(5, le=[0]), trail=0.03)
    assert only_trade(plain)["exit_reason"] == "trail"
    gated = run(rows, signals(5, le=[0]), trail=0.03, trail_activation=0.05)
    assert only_trade(gated)["exit_reason"] == "end"


def test_tighter_of_trailing_and_fixed_stop_acts() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (100, 120, 100, 119), (119, 119, 110, 111), (111, 111, 111, 111)]
    r = run(rows, signals(5, le=[0]), trail=0.05, sl=0.02)
    t = only_trade(r)  # trail level 114 is far tighter than SL 98
    assert t["exit_reason"] == "trail" and t["exit_price"] == pytest.approx(114)


# 8. Costs ---------------------------------------------------------------------

def test_taker_fee_on_market_fills_and_maker_fee_on_take_profit() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (100, 111, 100, 110), (110, 110, 110, 110)]
    r = run(rows, signals(4, le=[0]), tp=0.10, fee=0.001, maker_fee=0.0002)
    t = only_trade(r)
    qty = t["qty"]
    assert qty == pytest.approx(10_000 / (100 * 1.001))
    assert t["fees"] == pytest.approx(qty * 100 * 0.001 + qty * 110 * 0.0002)
    assert t["pnl"] == pytest.approx(qty * 10 - t["fees"])
    assert r.metrics["fees_paid"] == pytest.approx(t["fees"])


def test_slippage_never_applies_to_take_profit() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (100, 111, 100, 110), (110, 110, 110, 110)]
    r = run(rows, signals(4, le=[0]), tp=0.05, slippage=0.01)
    t = only_trade(r)
    assert t["entry_price"] == pytest.approx(101)
    assert t["exit_price"] == pytest.approx(101 * 1.05)


# 9. Sizing --------------------------------------------------------------------

def test_fixed_qty_and_fixed_notional() -> None:
    rows = flat(2) + [(200, 200, 200, 200)] * 2
    t = only_trade(run(rows, signals(4, le=[0]), size_mode="fixed_qty", size=3))
    assert t["qty"] == 3
    t = only_trade(run(rows, signals(4, le=[0]), size_mode="fixed_notional", size=500))
    assert t["qty"] == pytest.approx(5.0)


def test_leverage_and_qty_step_round_down() -> None:
    rows = flat(4)
    t = only_trade(run(rows, signals(4, le=[0]), leverage=3, qty_step=0.5, fee=0.00055))
    raw = 10_000 * 3 / (100 * 1.00055)
    assert t["qty"] == pytest.approx(np.floor(raw / 0.5) * 0.5)


def test_order_below_min_qty_is_skipped_and_counted() -> None:
    rows = flat(4)
    r = run(rows, signals(4, le=[0]), size_mode="fixed_qty", size=0.4, qty_step=0.5)
    assert r.n_trades == 0 and r.metrics["n_skipped_orders"] == 1
    r = run(rows, signals(4, le=[0]), size_mode="fixed_qty", size=1, min_qty=2)
    assert r.n_trades == 0 and r.metrics["n_skipped_orders"] == 1


def test_equity_fraction_compounds() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (100, 110, 100, 110), (110, 110, 110, 110), (110, 110, 110, 110)]
    r = run(rows, signals(5, le=[0, 3], lx=[2]), size=0.5)
    first, second = r.trade_dicts()
    assert first["qty"] == pytest.approx(5000 / 100)
    equity_after = 10_000 + first["pnl"]
    assert second["qty"] == pytest.approx(equity_after * 0.5 / 110)


# 10. Funding ------------------------------------------------------------------

def test_funding_charged_at_funding_times() -> None:
    hour = 60 * MIN
    n = 20
    t = T0 + np.arange(n, dtype=np.int64) * hour  # 00:00 .. 19:00: funding at 08:00, 16:00
    p = np.full(n, 100.0)
    c = engine.make_candles(t, p, p, p, p, np.ones(n))
    long_r = engine.backtest_signals(c, long_entry=np.eye(1, n, 0, dtype=bool)[0], fee=0.0, funding_rate=0.001)
    tr = long_r.trade_dicts()[0]
    qty = tr["qty"]
    assert long_r.metrics["funding_paid"] == pytest.approx(2 * qty * 100 * 0.001)
    assert tr["funding"] == pytest.approx(long_r.metrics["funding_paid"])
    assert long_r.metrics["final_equity"] == pytest.approx(10_000 - 2 * qty * 0.1)
    short_r = engine.backtest_signals(c, long_entry=np.zeros(n, bool), short_entry=np.eye(1, n, 0, dtype=bool)[0], fee=0.0, funding_rate=0.001)
    assert short_r.metrics["funding_paid"] == pytest.approx(-2 * short_r.trade_dicts()[0]["qty"] * 0.1)


def test_funding_series_overrides_constant() -> None:
    hour = 60 * MIN
    n = 10
    t = T0 + np.arange(n, dtype=np.int64) * hour
    p = np.full(n, 100.0)
    c = engine.make_candles(t, p, p, p, p, np.ones(n))
    series = (np.array([T0 + 3 * hour + 1]), np.array([0.01]))  # between bars: due at bar 4
    r = engine.backtest_signals(c, long_entry=np.eye(1, n, 0, dtype=bool)[0], fee=0.0, funding_series=series)
    qty = r.trade_dicts()[0]["qty"]
    assert r.metrics["funding_paid"] == pytest.approx(qty * 100 * 0.01)


# 11. Liquidation --------------------------------------------------------------

def test_isolated_margin_liquidation() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (100, 100, 85, 86), (86, 86, 86, 86)]
    r = run(rows, signals(4, le=[0]), leverage=10, liquidation=True, maintenance_margin=0.005)
    t = only_trade(r)
    assert t["exit_reason"] == "liquidation"
    assert t["exit_price"] == pytest.approx(100 * (1 - (0.1 - 0.005)))
    assert r.metrics["exits_liquidation"] == 1


def test_stop_above_liquidation_price_acts_first() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (100, 100, 85, 86), (86, 86, 86, 86)]
    r = run(rows, signals(4, le=[0]), leverage=10, liquidation=True, sl=0.03)
    assert only_trade(r)["exit_reason"] == "sl"


# 12. Marking and the open position at the end ---------------------------------

def test_equity_marked_to_every_close_and_open_trade_flagged() -> None:
    rows = [flat(1)[0], (100, 100, 100, 100), (100, 105, 95, 104), (104, 110, 100, 108)]
    r = run(rows, signals(4, le=[0]))
    qty = 10_000 / 100
    assert r.equity.tolist() == pytest.approx([10_000, 10_000, 10_000 + 4 * qty, 10_000 + 8 * qty])
    t = only_trade(r)
    assert t["open"] is True and t["exit_reason"] == "end" and t["exit_price"] == 108
    assert r.ended_open is True and r.metrics["exits_end"] == 1


# Strategy-level rules -----------------------------------------------------------

def test_crossover_is_strict_and_respects_warmup() -> None:
    c = engine.sample_candles("BTCUSDT", "15", 600)
    r = engine.backtest(c, "ema_cross", {"fast": 5, "slow": 40}, fee=0.0)
    fast = engine.indicators.ema(c.close, 5)
    slow = engine.indicators.ema(c.close, 40)
    crosses = [
        i for i in range(40, len(c))
        if (fast[i - 1] < slow[i - 1] and fast[i] > slow[i]) or (fast[i - 1] > slow[i - 1] and fast[i] < slow[i])
    ]
    entries = [t["entry_index"] for t in r.trade_dicts()]
    assert entries == [i + 1 for i in crosses if i + 1 < len(c)]


def test_gaps_in_time_are_reported() -> None:
    t = T0 + np.array([0, 1, 2, 5, 6], dtype=np.int64) * MIN
    p = np.full(5, 100.0)
    c = engine.make_candles(t, p, p, p, p, np.ones(5), interval="1")
    r = engine.backtest_signals(c, long_entry=np.zeros(5, bool))
    assert r.gaps == 1


def test_bars_helper_builds_valid_candles() -> None:
    assert len(bars(flat(3))) == 3
