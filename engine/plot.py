"""Equity and drawdown chart of a backtest, rendered to PNG bytes (no file I/O)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from engine._mpl import figure_png, pyplot
from engine.result import BacktestResult
from engine.story import buy_and_hold_equity
from ohlcv import Candles, Interval, UnknownIntervalError, describe_data

if TYPE_CHECKING:  # matplotlib is imported on first use: most runs draw no chart
    from matplotlib.figure import Figure


def render_equity_png(
    result: BacktestResult, *, candles: Candles | None = None, source: str | None = None,
    width: float = 10.0, height: float = 6.0, dpi: int = 100, max_points: int = 2000,
) -> bytes:
    """A two-panel PNG: equity (beside buy-and-hold when `candles` are given) and drawdown.

    `source` is how the candles were loaded (sample, store, file): the title says
    where the data came from (`ohlcv.describe_data`), so a chart is never mistaken
    for a result on market data. Long curves are drawn as a min/max envelope of at
    most ``max_points`` buckets: identical at chart resolution, and drawing 100k
    points would cost far more than the backtest itself."""
    plt = pyplot()
    fig = equity_figure(result, candles=candles, source=source, size=(width, height), max_points=max_points)
    try:
        return figure_png(fig, dpi)
    finally:
        plt.close(fig)


def equity_figure(
    result: BacktestResult, *, candles: Candles | None = None, source: str | None = None,
    size: tuple[float, float] = (10.0, 6.0), max_points: int = 2000,
) -> Figure:
    """The figure `render_equity_png` draws (the caller closes it)."""
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=size, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    try:
        t_eq, eq, t_dd, dd = _envelope(result.time, result.equity, result.drawdown() * 100.0, max_points)
        ax1.plot(t_eq.astype("datetime64[ms]"), eq, lw=1.0, color="#1f77b4", label="strategy")
        bh = _buy_and_hold(result, candles)
        if bh is not None:
            t_bh, bh_eq, _, _ = _envelope(result.time, bh, np.zeros_like(bh), max_points)
            ax1.plot(t_bh.astype("datetime64[ms]"), bh_eq, lw=1.0, color="#7f7f7f",
                     label="buy & hold (first open to last close, same capital and fees)")
        init = float(result.config.get("initial_capital", eq[0] if eq.size else 1.0))
        ax1.axhline(init, color="grey", lw=0.6, ls=":")
        ax1.set_ylabel("equity")
        ax1.set_title(chart_title(result, source), fontsize=10)
        ax1.text(0.01, 0.97, _headline(result, bh), transform=ax1.transAxes, va="top", fontsize=8)
        ax1.legend(loc="lower left", fontsize=8)
        ax2.fill_between(t_dd.astype("datetime64[ms]"), -dd, 0.0, color="#d62728", alpha=0.4, lw=0)
        ax2.set_ylabel("drawdown %")
        ax2.set_ylim(min(-1.0, float(np.min(-dd)) * 1.05 if dd.size else -1.0), 0.5)
        fig.autofmt_xdate()
    except BaseException:
        plt.close(fig)
        raise
    return fig


def chart_title(result: BacktestResult, source: str | None = None) -> str:
    """'BTCUSDT 15m ema_cross(fast=20, slow=50) [SYNTHETIC sample series]'"""
    params = ", ".join(f"{k}={v}" for k, v in result.params.items())
    tag = describe_data(source, result.synthetic).tag
    return f"{result.symbol} {_interval(result.interval)} {result.strategy}({params})" + (f" [{tag}]" if tag else "")


def _interval(label: str) -> str:
    try:
        return Interval.parse(label, native_only=False).display
    except UnknownIntervalError:
        return label


def _buy_and_hold(result: BacktestResult, candles: Candles | None) -> np.ndarray | None:
    if candles is None or len(candles) != result.equity.shape[0] or not len(candles):
        return None
    cfg = result.config
    return buy_and_hold_equity(
        candles.open, candles.close, capital=float(cfg.get("initial_capital", 10_000.0)),
        fee=float(cfg.get("fee", 0.0)), slippage=float(cfg.get("slippage", 0.0)),
    )  # fmt: skip


def _headline(result: BacktestResult, bh: np.ndarray | None) -> str:
    m = result.metrics
    text = (
        f"return {_pct(m.get('total_return'))}  sharpe {_num(m.get('sharpe'))}  "
        f"max DD {_pct(m.get('max_drawdown'))}  trades {m.get('n_trades')}"
    )
    if bh is not None and bh.size:
        init = float(result.config.get("initial_capital", 1.0))
        text += f"  |  buy & hold {_pct(float(bh[-1]) / init - 1.0)}"
    return text


def _envelope(
    t: np.ndarray, eq: np.ndarray, dd: np.ndarray, max_points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Equity as each bucket's lowest and highest point in time order, and the
    drawdown as each bucket's worst value: nothing visible is lost."""
    n = eq.shape[0]
    buckets = max(1, max_points // 2)
    if n <= 2 * buckets:
        return t, eq, t, dd
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    pairs = [(s + int(np.argmin(eq[s:e])), s + int(np.argmax(eq[s:e]))) for s, e in itertools.pairwise(edges)]
    idx = np.unique(np.array([*(i for p in pairs for i in p), n - 1]))
    worst = np.maximum.reduceat(dd, edges[:-1])
    return t[idx], eq[idx], t[edges[:-1]], worst


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.2f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"
