"""Resources: large artefacts the tools point at instead of inlining them.

backtest://{id}/trades       every trade (JSON)
backtest://{id}/equity       equity and drawdown curve, at most 2,000 points (JSON)
backtest://{id}/report       full metrics, config, data summary, metric docs (JSON)
optimization://{id}/table    every evaluated combination (or walk-forward split), ranked
klines://{category}/{symbol}/{interval}{?start,end,limit}   exchange candles (JSON rows)
strategies://catalog         strategies and their parameter specs (JSON)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

import numpy as np
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

import engine as E
from mcp_server import market_views
from mcp_server.errors import describe, lookup
from mcp_server.tools._runtime import app
from mcp_server.tools.optimize import clean_json
from ohlcv import format_iso

__all__ = ["register_resources"]

_EQUITY_POINTS = 2000
_MAX_TRADES = 10_000
_KLINES_LIMIT = 5000
P = ParamSpec("P")


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)


def _resource_errors(fn: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[str]]:
    """Known errors become ResourceErrors that say how to fix the read."""

    @functools.wraps(fn)
    async def read(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            if lookup(exc) is None:
                raise
            raise ResourceError(describe(exc)) from None

    return read


def _downsample(n: int, points: int) -> np.ndarray:
    """Indices of at most `points` evenly spread samples, always including the last."""
    if n <= points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, points).round().astype(np.int64))


@_resource_errors
async def backtest_trades(bid: str, ctx: Context) -> str:
    """Every trade of a backtest: times, side, prices, pnl, fees, exit reason."""
    r = (await app(ctx).results.get(bid)).result
    assert r is not None
    rows = r.trade_dicts(limit=_MAX_TRADES)
    return _dump({"id": bid, "n_trades": r.n_trades, "truncated": r.n_trades > len(rows),
                  "synthetic": r.synthetic, "trades": rows})  # fmt: skip


@_resource_errors
async def backtest_equity(bid: str, ctx: Context) -> str:
    """Equity and drawdown at up to 2,000 evenly spaced bars."""
    r = (await app(ctx).results.get(bid)).result
    assert r is not None
    idx = _downsample(len(r.equity), _EQUITY_POINTS)
    return _dump({
        "id": bid, "bars": len(r.equity), "points": len(idx), "synthetic": r.synthetic,
        "time": [format_iso(int(t)) for t in r.time[idx]],
        "equity": [round(float(x), 4) for x in r.equity[idx]],
        "drawdown": [round(float(x), 6) for x in r.drawdown()[idx]],
    })  # fmt: skip


@_resource_errors
async def backtest_report(bid: str, ctx: Context) -> str:
    """Full report: every metric with its documentation, config and data summary."""
    s = await app(ctx).results.get(bid, need_result=False)
    docs = {k: E.METRIC_DOCS.get(k) for k in s.summary["metrics"]}
    return _dump({"id": bid, **s.summary, "metric_docs": docs})


@_resource_errors
async def optimization_table(oid: str, ctx: Context) -> str:
    """Every evaluated combination of an optimisation (or every walk-forward split), ranked."""
    return json.dumps(clean_json(app(ctx).optimizations.get(oid)), separators=(",", ":"))


async def strategies_catalog() -> str:
    """Built-in strategies with parameter specs (type, default, range)."""
    return _dump({"strategies": E.list_strategies()})


@_resource_errors
async def klines(
    category: str, symbol: str, interval: str, ctx: Context, start: str = "", end: str = "",
    limit: str = "",
) -> str:  # fmt: skip
    """Exchange candles from the local store (fetched when missing): time in seconds UTC,
    open, high, low, close, volume. start/end: ISO dates; limit: newest N rows (max 5000)."""
    try:
        n = int(limit) if limit else 1000
    except ValueError:
        raise ResourceError(f"limit={limit!r} must be an integer") from None
    c = await market_views.klines(
        app(ctx), category, symbol, interval, start or None, end or None, max(1, min(n, _KLINES_LIMIT))
    )
    meta = {"category": category, "symbol": symbol.upper(), "interval": interval, "count": len(c),
            "synthetic": c.synthetic, "provenance": market_views.data_label(c).text}  # fmt: skip
    return _dump({**meta, "candles": market_views.candle_rows(c)})


_RESOURCES: list[tuple[str, str, Callable[..., Awaitable[str]]]] = [
    ("backtest://{bid}/trades", "backtest-trades", backtest_trades),
    ("backtest://{bid}/equity", "backtest-equity", backtest_equity),
    ("backtest://{bid}/report", "backtest-report", backtest_report),
    ("optimization://{oid}/table", "optimization-table", optimization_table),
    ("strategies://catalog", "strategies-catalog", strategies_catalog),
    ("klines://{category}/{symbol}/{interval}{?start,end,limit}", "klines", klines),
]


def register_resources(server: MCPServer[Any]) -> None:
    """Add every resource and template to `server`."""
    for uri, name, fn in _RESOURCES:
        server.resource(uri, name=name, mime_type="application/json", description=fn.__doc__)(fn)
