"""The demo's story: one line on why a backtest ended where it did, and the chart that
shows the strategy beside buy-and-hold with the interval unit and the data's label."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine
from engine._mpl import pyplot
from engine.plot import equity_figure
from ohlcv import describe_data

CAPITAL = 10_000.0
plt = pyplot()


def _metrics(**m: Any) -> dict[str, Any]:
    base: dict[str, Any] = {key: None for key in engine.METRIC_KEYS}
    base.update(fees_paid=0.0, funding_paid=0.0, n_trades=0, final_equity=CAPITAL, total_return=0.0)
    base.update(m)
    base["total_return"] = base["final_equity"] / CAPITAL - 1
    return base


STORIES = [
    pytest.param(  # the demo: EMA 20/50 on the year of 15m sample candles
        _metrics(n_trades=771, fees_paid=2824.13, final_equity=1000.96, win_rate=0.2296,
                 profit_factor=0.60, exposure=0.9974, buy_and_hold_return=1.3144),
        "771 trades paid $2,824 in fees, 28 % of starting capital, on a gross edge of -$6,175: "
        "costs and a losing edge; behind buy-and-hold's +131 %",
        id="demo-costs-and-losing-edge",
    ),
    pytest.param(
        _metrics(n_trades=500, fees_paid=1500.0, final_equity=9700.0, win_rate=0.48, profit_factor=0.97),
        "500 trades paid $1,500 in fees, 15 % of starting capital, on a gross edge of +$1,200: "
        "costs turned a winning edge into a loss",
        id="costs-ate-a-winning-edge",
    ),
    pytest.param(
        _metrics(n_trades=40, fees_paid=50.0, final_equity=8000.0, win_rate=0.3, profit_factor=0.5,
                 buy_and_hold_return=-0.1),
        "a losing edge: won 30 % of 40 trades, profit factor 0.50; fees ($50) were a small part of "
        "the loss; behind buy-and-hold's -10 %",
        id="losing-edge",
    ),
    pytest.param(
        _metrics(n_trades=53, fees_paid=450.0, final_equity=6942.0, win_rate=0.68, profit_factor=0.8,
                 payoff_ratio=0.38, buy_and_hold_return=2.2284),
        "a losing edge: won 68 % of 53 trades, profit factor 0.80, but losers were 2.6x the size of "
        "winners; fees ($450) were a small part of the loss; behind buy-and-hold's +223 %",
        id="losing-edge-despite-a-high-win-rate",
    ),
    pytest.param(
        _metrics(n_trades=1, fees_paid=11.0, final_equity=18_706.0, win_rate=1.0, exposure=1.0,
                 buy_and_hold_return=0.8716),
        "+87 % from only 1 trade: too few to tell skill from luck; in line with buy-and-hold's +87 %",
        id="holding-is-level-with-buy-and-hold",
    ),
    pytest.param(
        _metrics(n_trades=0, buy_and_hold_return=0.2, exposure=0.0),
        "no trades: the entry signal never fired, so the capital sat in cash while buy-and-hold made +20 %",
        id="no-trades",
    ),
    pytest.param(
        _metrics(n_trades=60, fees_paid=90.0, final_equity=10_500.0, win_rate=0.55, profit_factor=1.3,
                 exposure=0.1, buy_and_hold_return=0.8),
        "in the market only 10 % of the time: made +5.0 % while buy-and-hold made +80 %",
        id="sat-out-the-trend",
    ),
    pytest.param(
        _metrics(n_trades=12, fees_paid=20.0, final_equity=11_500.0, win_rate=0.5, profit_factor=2.0,
                 exposure=0.6, buy_and_hold_return=0.1),
        "+15 % from only 12 trades: too few to tell skill from luck; ahead of buy-and-hold's +10 %",
        id="too-few-trades",
    ),
    pytest.param(
        _metrics(n_trades=40, fees_paid=60.0, final_equity=12_000.0, win_rate=0.62, profit_factor=1.8,
                 exposure=0.7),
        "won 62 % of 40 trades, profit factor 1.80",
        id="winning-by-win-rate",
    ),
    pytest.param(
        _metrics(n_trades=80, fees_paid=100.0, final_equity=13_000.0, win_rate=0.35, profit_factor=1.56,
                 payoff_ratio=2.9, exposure=0.8, buy_and_hold_return=0.05),
        "won 35 % of 80 trades, profit factor 1.56: winners 2.9x the size of losers carried it; "
        "ahead of buy-and-hold's +5.0 %",
        id="winning-by-payoff",
    ),
]


@pytest.mark.parametrize(("metrics", "line"), STORIES)
def test_explain_result_names_the_dominant_cause(metrics: dict[str, Any], line: str) -> None:
    assert engine.explain_result(metrics, CAPITAL) == line


def test_explain_result_copes_with_missing_and_nan_metrics() -> None:
    line = engine.explain_result({"n_trades": 5, "total_return": 0.02, "win_rate": float("nan")}, CAPITAL)
    assert line == "+2.0 % from only 5 trades: too few to tell skill from luck"


def test_buy_and_hold_pays_the_fee_and_slippage_on_both_fills() -> None:
    open_ = np.array([100.0, 110.0, 120.0])
    close = np.array([105.0, 115.0, 130.0])
    eq = engine.buy_and_hold_equity(open_, close, capital=1000.0, fee=0.001, slippage=0.0005)
    qty = 1000.0 / (100.0 * 1.0005 * 1.001)
    assert eq == pytest.approx(qty * close * 0.9995 * 0.999)
    assert engine.buy_and_hold_equity(open_[:0], close[:0], capital=1000.0, fee=0.0).size == 0


@pytest.fixture(scope="module")
def run() -> tuple[Any, engine.BacktestResult]:
    candles = engine.sample_candles("BTCUSDT", "15", 3000, seed=5)
    return candles, engine.backtest(candles, "ema_cross", {"fast": 20, "slow": 50})


def test_chart_shows_buy_and_hold_beside_the_strategy(run: tuple[Any, engine.BacktestResult]) -> None:
    candles, result = run
    fig = equity_figure(result, candles=candles, source="sample")
    try:
        ax = fig.axes[0]
        lines = {line.get_label(): line for line in ax.get_lines()}
        hold = next(line for label, line in lines.items() if label.startswith("buy & hold"))
        assert "same capital and fees" in hold.get_label() and "strategy" in lines
        expected = engine.buy_and_hold_equity(
            candles.open, candles.close, capital=CAPITAL, fee=result.config["fee"]
        )
        ydata = np.asarray(hold.get_ydata())
        assert ydata[-1] == pytest.approx(expected[-1]) and ydata[0] == pytest.approx(expected[0])
        assert "buy & hold" in ax.texts[0].get_text()
        assert ax.get_title() == "BTCUSDT 15m ema_cross(fast=20, slow=50) [SYNTHETIC sample series]"
    finally:
        plt.close(fig)


def test_chart_title_says_where_synthetic_data_came_from(run: tuple[Any, engine.BacktestResult]) -> None:
    _, result = run  # synthetic candles, as the store holds them after a fetch from the fake
    fig = equity_figure(result, source="store")
    try:
        title = fig.axes[0].get_title()
        assert title.startswith("BTCUSDT 15m ") and "SYNTHETIC: offline fake Bybit, via the store" in title
        assert "sample" not in title
        assert not any(line.get_label().startswith("buy & hold") for line in fig.axes[0].get_lines())
    finally:
        plt.close(fig)
    hourly = engine.backtest(engine.sample_candles("ETHUSDT", "60", 500).relabel(synthetic=False), "sma_cross")
    fig = equity_figure(hourly, source="store")
    try:
        assert fig.axes[0].get_title().startswith("ETHUSDT 1h sma_cross(") and "SYNTHETIC" not in fig.axes[0].get_title()
    finally:
        plt.close(fig)


def test_png_renders_with_candles() -> None:
    candles = engine.sample_candles("BTCUSDT", "D", 400)
    result = engine.backtest(candles, "sma_cross")
    png = engine.render_equity_png(result, candles=candles, source="sample", max_points=100)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_heatmap_title_says_synthetic(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.optimize._heatmap as heatmap

    candles = engine.sample_candles("BTCUSDT", "60", 600)
    space = engine.make_space("sma_cross", {"fast": "5:10:5", "slow": "20:30:10"})
    res = engine.optimize_grid(candles, space, overfit=False)
    titles: list[str] = []
    monkeypatch.setattr(heatmap, "render_heatmap_png", lambda *a, **k: titles.append(k["title"]) or b"")
    heatmap.result_heatmap_png(res, "fast", "slow", data=describe_data("store", True))
    heatmap.result_heatmap_png(res, "fast", "slow")
    assert titles[0].endswith("[SYNTHETIC: offline fake Bybit, via the store]") and "[" not in titles[1]
