"""What a backtest returns: metrics, the equity curve and the trade list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine._nb import enums as E
from ohlcv import format_iso as iso_utc


@dataclass
class BacktestResult:
    """The outcome of one backtest.

    ``trades`` is a (n, 11) float matrix in the kernel's column layout; use
    :meth:`trade_dicts` for readable records. ``equity`` is marked to every
    bar's close. ``synthetic`` is True when the candles came from the sample
    generator, and every rendering of the result says so.
    """

    strategy: str
    params: dict[str, Any]
    config: dict[str, Any]
    metrics: dict[str, Any]
    equity: npt.NDArray[np.float64]
    trades: npt.NDArray[np.float64]
    time: npt.NDArray[np.int64]
    periods_per_year: float
    symbol: str = ""
    interval: str = ""
    synthetic: bool = False
    ended_open: bool = False
    gaps: int = 0
    equity_gone_time: int | None = None  # ms of the first order refused for lack of equity
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_trades(self) -> int:
        return int(self.trades.shape[0])

    def drawdown(self) -> npt.NDArray[np.float64]:
        """Drawdown fraction at every bar close (0 at a new equity peak)."""
        init = float(self.config.get("initial_capital", self.equity[0] if self.equity.size else 1.0))
        peak = np.maximum.accumulate(np.concatenate(([init], self.equity)))[1:]
        return np.where(peak > 0, 1.0 - self.equity / peak, 1.0)

    def trade_dicts(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Trades as JSON-safe dicts with the CLI contract's keys."""
        rows = self.trades if limit is None else self.trades[:limit]
        out = []
        last = self.n_trades - 1
        for k, t in enumerate(rows):
            ei, xi = int(t[E.T_ENTRY_IDX]), int(t[E.T_EXIT_IDX])
            reason = E.EXIT_NAMES[int(t[E.T_EXIT_REASON])]
            out.append({
                "entry_index": ei,
                "exit_index": xi,
                "entry_time": iso_utc(int(self.time[ei])),
                "exit_time": iso_utc(int(self.time[xi])),
                "side": "long" if t[E.T_SIDE] > 0 else "short",
                "qty": float(t[E.T_QTY]),
                "entry_price": float(t[E.T_ENTRY_PRICE]),
                "exit_price": float(t[E.T_EXIT_PRICE]),
                "pnl": float(t[E.T_PNL]),
                "return": float(t[E.T_RETURN]),
                "fees": float(t[E.T_FEES]),
                "funding": float(t[E.T_FUNDING]),
                "exit_reason": reason,
                "open": bool(self.ended_open and k == last and reason == "end"),
            })
        return out

    def summary(self) -> dict[str, Any]:
        """Compact description without the curve or trades."""
        return {
            "strategy": self.strategy,
            "params": self.params,
            "symbol": self.symbol,
            "interval": self.interval,
            "bars": int(self.time.shape[0]),
            "start": iso_utc(int(self.time[0])) if self.time.size else None,
            "end": iso_utc(int(self.time[-1])) if self.time.size else None,
            "synthetic": self.synthetic,
            "ended_open": self.ended_open,
            "time_gaps": self.gaps,
            "warnings": list(self.warnings),
            "equity_exhausted_at": (
                None if self.equity_gone_time is None else iso_utc(self.equity_gone_time)
            ),
            "periods_per_year": self.periods_per_year,
            "metrics": self.metrics,
        }

    def to_dict(self, include_equity: bool = False) -> dict[str, Any]:
        """JSON-safe dict: summary, config and every trade (and the curve if asked)."""
        d = self.summary()
        d["config"] = self.config
        d["trades"] = self.trade_dicts()
        if include_equity:
            d["equity"] = [float(x) for x in self.equity]
            d["time"] = [int(x) for x in self.time]
        return d
