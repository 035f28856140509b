"""Equity and drawdown chart of a backtest, rendered to PNG bytes (no file I/O)."""

from __future__ import annotations

import itertools

import numpy as np

from engine._mpl import figure_png, pyplot
from engine.result import BacktestResult


def render_equity_png(
    result: BacktestResult, *, width: float = 10.0, height: float = 6.0, dpi: int = 100,
    max_points: int = 2000,
) -> bytes:
    """A two-panel PNG: equity (with buy-and-hold for reference) and drawdown.

    Synthetic data is labelled in the title so a chart is never mistaken for a
    result on market data. Long curves are drawn as a min/max envelope of at
    most ``max_points`` buckets: identical at chart resolution, and drawing
    100k points would cost far more than the backtest itself."""
    plt = pyplot()

    t_eq, eq, t_dd, dd = _envelope(result.time, result.equity, result.drawdown() * 100.0, max_points)
    t = t_eq.astype("datetime64[ms]")
    t2 = t_dd.astype("datetime64[ms]")
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(width, height), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    try:
        ax1.plot(t, eq, lw=1.0, color="#1f77b4", label="strategy equity")
        bh = result.metrics.get("buy_and_hold_return")
        init = float(result.config.get("initial_capital", eq[0] if eq.size else 1.0))
        if bh is not None and eq.size:
            ax1.axhline(init, color="grey", lw=0.6, ls=":")
        ax1.set_ylabel("equity")
        params = ", ".join(f"{k}={v}" for k, v in result.params.items())
        tag = " [SYNTHETIC sample data]" if result.synthetic else ""
        ax1.set_title(f"{result.symbol} {result.interval} {result.strategy}({params}){tag}", fontsize=10)
        m = result.metrics
        text = (
            f"return {_pct(m.get('total_return'))}  sharpe {_num(m.get('sharpe'))}  "
            f"max DD {_pct(m.get('max_drawdown'))}  trades {m.get('n_trades')}"
        )
        ax1.text(0.01, 0.97, text, transform=ax1.transAxes, va="top", fontsize=8)
        ax1.legend(loc="lower right", fontsize=8)
        ax2.fill_between(t2, -dd, 0.0, color="#d62728", alpha=0.4, lw=0)
        ax2.set_ylabel("drawdown %")
        ax2.set_ylim(min(-1.0, float(np.min(-dd)) * 1.05 if dd.size else -1.0), 0.5)
        fig.autofmt_xdate()
        return figure_png(fig, dpi)
    finally:
        plt.close(fig)


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
