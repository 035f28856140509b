"""Metric formulas against direct numpy computations on the equity curve and trades."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import engine


@pytest.fixture(scope="module")
def result() -> engine.BacktestResult:
    c = engine.sample_candles("BTCUSDT", "15", 5000, seed=11)
    return engine.backtest(c, "ema_cross", {"fast": 10, "slow": 40}, sl=0.01, tp=0.03, trail=0.02)


def test_every_key_present_and_json_safe(result: engine.BacktestResult) -> None:
    assert list(result.metrics) == list(engine.METRIC_KEYS)
    json.dumps(result.metrics, allow_nan=False)
    json.dumps(result.to_dict(), allow_nan=False)


def test_return_risk_and_ratio_formulas(result: engine.BacktestResult) -> None:
    m = result.metrics
    eq = result.equity
    init = 10_000.0
    ppy = result.periods_per_year
    assert ppy == pytest.approx(365 * 24 * 4)
    prev = np.concatenate(([init], eq[:-1]))
    r = eq / prev - 1
    assert m["total_return"] == pytest.approx(eq[-1] / init - 1, rel=1e-12)
    years = len(eq) / ppy
    assert m["cagr"] == pytest.approx((eq[-1] / init) ** (1 / years) - 1, rel=1e-9)
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(ppy), rel=1e-8)
    downside = math.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert m["sortino"] == pytest.approx(r.mean() / downside * math.sqrt(ppy), rel=1e-8)
    assert m["volatility_ann"] == pytest.approx(r.std(ddof=1) * math.sqrt(ppy), rel=1e-8)
    peak = np.maximum.accumulate(np.concatenate(([init], eq)))[1:]
    dd = 1 - eq / peak
    assert m["max_drawdown"] == pytest.approx(dd.max(), rel=1e-12)
    assert m["ulcer_index"] == pytest.approx(math.sqrt(np.mean(dd**2)), rel=1e-9)
    assert m["calmar"] == pytest.approx(m["cagr"] / m["max_drawdown"], rel=1e-12)
    c = engine.sample_candles("BTCUSDT", "15", 5000, seed=11)
    assert m["buy_and_hold_return"] == pytest.approx(c.close[-1] / c.close[0] - 1)
    # daily Sharpe from UTC-day closing equity
    day = result.time // 86_400_000
    last = np.flatnonzero(np.diff(day, append=day[-1] + 1))
    daily = np.concatenate(([init], eq[last]))
    dr = daily[1:] / daily[:-1] - 1
    assert m["sharpe_daily"] == pytest.approx(dr.mean() / dr.std(ddof=1) * math.sqrt(365), rel=1e-8)
    # longest stretch below a peak, in bars
    longest, since = 0, 0
    top = init
    for k, v in enumerate(eq):
        if v >= top:
            top, since = v, k
        else:
            longest = max(longest, k - since)
    assert m["max_drawdown_duration"] == longest


def test_trade_formulas(result: engine.BacktestResult) -> None:
    m = result.metrics
    trades = result.trade_dicts()
    pnl = np.array([t["pnl"] for t in trades])
    ret = np.array([t["return"] for t in trades])
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    assert m["n_trades"] == len(trades)
    assert m["win_rate"] == pytest.approx(len(wins) / len(pnl))
    assert m["profit_factor"] == pytest.approx(wins.sum() / -losses.sum())
    assert m["expectancy"] == pytest.approx(pnl.mean())
    assert m["expectancy_return"] == pytest.approx(ret.mean())
    assert m["avg_win"] == pytest.approx(wins.mean())
    assert m["avg_loss"] == pytest.approx(losses.mean())
    assert m["payoff_ratio"] == pytest.approx(wins.mean() / abs(losses.mean()))
    assert m["best_trade"] == pytest.approx(ret.max()) and m["worst_trade"] == pytest.approx(ret.min())
    assert m["sqn"] == pytest.approx(math.sqrt(len(pnl)) * pnl.mean() / pnl.std(ddof=1), rel=1e-8)
    dur = [t["exit_index"] - t["entry_index"] for t in trades]
    assert m["avg_trade_duration"] == pytest.approx(np.mean(dur))
    run = best = 0
    for p in pnl:
        run = run + 1 if p <= 0 else 0
        best = max(best, run)
    assert m["max_consecutive_losses"] == best
    reasons = [t["exit_reason"] for t in trades]
    for name in ("signal", "sl", "tp", "trail", "liquidation", "end"):
        assert m[f"exits_{name}"] == reasons.count(name)
    assert m["fees_paid"] == pytest.approx(sum(t["fees"] for t in trades))
    in_pos = np.zeros(len(result.equity), bool)
    for t in trades:
        in_pos[t["entry_index"] : t["exit_index"] + 1] = True
    assert m["exposure"] == pytest.approx(in_pos.mean())
    assert sum(pnl) == pytest.approx(result.equity[-1] - 10_000, rel=1e-9)


def test_tiny_returns_do_not_break_sharpe() -> None:
    n = 2000
    t = 1_704_067_200_000 + np.arange(n, dtype=np.int64) * 60_000
    p = 100 + np.arange(n) * 1e-9  # returns around 1e-11 per bar
    c = engine.make_candles(t, p, p, p, p, np.ones(n), interval="1")
    r = engine.backtest(c, "buy_and_hold", fee=0.0)
    assert r.metrics["sharpe"] is not None and math.isfinite(r.metrics["sharpe"])
    assert r.metrics["max_drawdown"] == 0.0


def test_no_trades_gives_nulls_not_nan() -> None:
    n = 100
    t = 1_704_067_200_000 + np.arange(n, dtype=np.int64) * 60_000
    p = np.full(n, 100.0)
    c = engine.make_candles(t, p, p, p, p, np.ones(n))
    m = engine.backtest(c, "ema_cross", {"fast": 5, "slow": 20}).metrics
    assert m["n_trades"] == 0 and m["win_rate"] is None and m["sharpe"] is None
    json.dumps(m, allow_nan=False)


def test_readme_documents_every_metric_key() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [k for k in engine.METRIC_KEYS if f"`{k}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"
