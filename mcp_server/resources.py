"""Resources: large artefacts the tools point at instead of inlining them.

backtest://{id}/trades     every trade (JSON)
backtest://{id}/equity     equity and drawdown curve, at most 2,000 points (JSON)
backtest://{id}/report     full metrics, config, data summary, metric docs (JSON)
klines://{category}/{symbol}/{interval}{?start,end,limit}   stored candles (JSON rows)
strategies://catalog       strategies and their parameter specs (JSON)
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

import engine as E
from mcp_server.errors import ResultNotFoundError, to_tool_error
from mcp_server.state import AppState

__all__ = ["register_resources"]

_EQUITY_POINTS = 2000
_MAX_TRADES = 10_000
_KLINES_LIMIT = 5000


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)


def _downsample(n: int, points: int) -> np.ndarray:
    """Indices of at most `points` evenly spread samples, always including the last."""
    if n <= points:
        return np.arange(n)
    idx = np.linspace(0, n - 1, points).round().astype(np.int64)
    return np.unique(idx)


def register_resources(server: MCPServer[Any], state: AppState) -> None:
    """Add every resource and template to `server`."""

    async def stored(bid: str) -> E.BacktestResult:
        try:
            s = await state.backtests.get(bid)
        except ResultNotFoundError as exc:
            raise ResourceError(f"{exc}; run run_backtest again to get a fresh id") from None
        assert s.result is not None
        return s.result

    @server.resource(
        "backtest://{bid}/trades",
        name="backtest-trades",
        mime_type="application/json",
        description="Every trade of a backtest: times, side, prices, pnl, fees, exit reason",
    )
    async def trades(bid: str) -> str:
        r = await stored(bid)
        rows = r.trade_dicts(limit=_MAX_TRADES)
        return _dump(
            {
                "id": bid,
                "n_trades": r.n_trades,
                "truncated": r.n_trades > len(rows),
                "synthetic": r.synthetic,
                "trades": rows,
            }
        )

    @server.resource(
        "backtest://{bid}/equity",
        name="backtest-equity",
        mime_type="application/json",
        description="Equity and drawdown at up to 2,000 evenly spaced bars",
    )
    async def equity(bid: str) -> str:
        r = await stored(bid)
        idx = _downsample(len(r.equity), _EQUITY_POINTS)
        dd = r.drawdown()
        return _dump(
            {
                "id": bid,
                "bars": len(r.equity),
                "points": len(idx),
                "synthetic": r.synthetic,
                "time": [_iso(int(t)) for t in r.time[idx]],
                "equity": [round(float(x), 4) for x in r.equity[idx]],
                "drawdown": [round(float(x), 6) for x in dd[idx]],
            }
        )

    @server.resource(
        "backtest://{bid}/report",
        name="backtest-report",
        mime_type="application/json",
        description="Full report: every metric with its documentation, config and data summary",
    )
    async def report(bid: str) -> str:
        try:
            s = await state.backtests.get(bid, need_result=False)
        except ResultNotFoundError as exc:
            raise ResourceError(f"{exc}; run run_backtest again to get a fresh id") from None
        docs = {k: E.METRIC_DOCS.get(k) for k in s.summary["metrics"]}
        return _dump({"id": bid, **s.summary, "metric_docs": docs})

    @server.resource(
        "strategies://catalog",
        name="strategies-catalog",
        mime_type="application/json",
        description="Built-in strategies with parameter specs (type, default, range)",
    )
    async def catalog() -> str:
        return _dump({"strategies": E.list_strategies()})

    @server.resource(
        "klines://{category}/{symbol}/{interval}{?start,end,limit}",
        name="klines",
        mime_type="application/json",
        description="Candles from the local store (fetched when missing): time in seconds UTC, "
        "open, high, low, close, volume. start/end: ISO dates; limit: newest N rows (max 5000)",
    )
    async def klines(
        category: str,
        symbol: str,
        interval: str,
        start: str = "",
        end: str = "",
        limit: str = "",
    ) -> str:
        from mcp_server.marketdata import klines_rows

        try:
            n = int(limit) if limit else 1000
        except ValueError:
            raise ResourceError(f"limit={limit!r} must be an integer") from None
        try:
            rows, meta = await klines_rows(
                state,
                category,
                symbol,
                interval,
                start or None,
                end or None,
                max(1, min(n, _KLINES_LIMIT)),
            )
        except Exception as exc:
            mapped = to_tool_error(exc)
            if mapped is None:
                raise
            raise ResourceError(str(mapped)) from None
        return _dump({**meta, "candles": rows})


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
