"""The equity/drawdown chart returned as image content by run_backtest."""

from __future__ import annotations

import threading

import engine as E

__all__ = ["render_chart"]

# matplotlib's pyplot state is global; the engine renderer uses the object API,
# but a lock keeps concurrent renders from threads strictly apart anyway.
_LOCK = threading.Lock()


def render_chart(result: E.BacktestResult) -> bytes:
    """PNG bytes of the equity curve and drawdown (engine.plot's renderer)."""
    from engine.plot import render_equity_png

    with _LOCK:
        return render_equity_png(result, width=8.0, height=5.0, dpi=80)
