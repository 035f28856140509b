"""Resources: large artefacts the tools point at instead of inlining them.

backtest://{id}/trades{?cursor}     the trades, 500 a page; `next` is the following page (JSON)
backtest://{id}/equity{?points}     equity and drawdown curve, 500 points (up to 2,000) (JSON)
backtest://{id}/report              full metrics, config, data summary, metric docs (JSON)
backtest://{id}/chart               equity chart (PNG)
optimization://{id}/table{?cursor}  every evaluated combination (or walk-forward split), ranked,
                                    100 a page (JSON)
optimization://{id}/heatmap         heatmap of the first two parameters (PNG)
backtest://{id}/view                what the report view draws: bucketed candles, trades... (JSON)
optimization://{id}/view{?x,y}      what the heatmap (axes x, y) or walk-forward view draws (JSON)
klines://{category}/{symbol}/{interval}{?start,end,limit}   exchange candles (JSON rows)
strategies://catalog         strategies and their parameter specs (JSON)
job://{id}                   a job's record, progress and recent events; its result once done (JSON)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import anyio
import numpy as np
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

import engine as E
from mcp_server import market_views
from mcp_server.errors import describe, lookup
from mcp_server.numbers import round_json, significant
from mcp_server.tools._runtime import app
from mcp_server.tools.optimize import clean_json
from mcp_server.ui import heatmap_data, report_data, walkforward_data
from ohlcv import format_iso

__all__ = ["register_resources"]

_EQUITY_POINTS = 500
_MAX_EQUITY_POINTS = 2000
_TRADES_PAGE = 500
_TABLE_PAGE = 100
_KLINES_LIMIT = 5000
P = ParamSpec("P")


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)


R = TypeVar("R", str, bytes)


def _resource_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Known errors become ResourceErrors that say how to fix the read."""

    @functools.wraps(fn)
    async def read(*args: P.args, **kwargs: P.kwargs) -> R:
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


def _page(cursor: str, size: int, total: int) -> tuple[int, int]:
    """The rows [start, stop) of the page at `cursor` (an offset; empty = the first)."""
    try:
        start = int(cursor) if cursor else 0
    except ValueError:
        raise ResourceError(f"cursor={cursor!r} is not a cursor: pass the `next` URI as given") from None
    if not 0 <= start <= max(total, 0):
        raise ResourceError(f"cursor={start} is outside 0..{total}: pass the `next` URI as given")
    return start, min(start + size, total)


def _next(uri: str, stop: int, total: int) -> str | None:
    return f"{uri}?cursor={stop}" if stop < total else None


@_resource_errors
async def backtest_trades(bid: str, ctx: Context, cursor: str = "") -> str:
    """A backtest's trades, 500 a page: times, side, prices, pnl, fees, exit reason.
    `next` is the URI of the following page (null on the last)."""
    r = (await app(ctx).results.get(bid)).result
    assert r is not None
    start, stop = _page(cursor, _TRADES_PAGE, r.n_trades)
    rows = r.trade_dicts(limit=stop)[start:]
    return _dump(round_json({
        "id": bid, "n_trades": r.n_trades, "from": start, "count": len(rows),
        "next": _next(f"backtest://{bid}/trades", stop, r.n_trades),
        "synthetic": r.synthetic, "trades": rows,
    }))  # fmt: skip


@_resource_errors
async def backtest_equity(bid: str, ctx: Context, points: str = "") -> str:
    """Equity and drawdown at 500 evenly spaced bars (points=N for up to 2,000)."""
    try:
        n = int(points) if points else _EQUITY_POINTS
    except ValueError:
        raise ResourceError(f"points={points!r} must be an integer") from None
    r = (await app(ctx).results.get(bid)).result
    assert r is not None
    idx = _downsample(len(r.equity), max(2, min(n, _MAX_EQUITY_POINTS)))
    outline = r.extra.get("equity_outline")
    note = {"note": f"equity outline of {outline} points (the data no longer loads the same)"}
    return _dump({
        **(note if outline is not None else {}),
        "id": bid, "bars": len(r.equity), "points": len(idx), "synthetic": r.synthetic,
        "time": [format_iso(int(t)) for t in r.time[idx]],
        "equity": [round(float(x), 2) for x in r.equity[idx]],
        "drawdown": [significant(float(x)) for x in r.drawdown()[idx]],
    })  # fmt: skip


@_resource_errors
async def backtest_report(bid: str, ctx: Context) -> str:
    """Full report: every metric with its documentation, config and data summary."""
    s = await app(ctx).results.get(bid, need_result=False)
    docs = {k: E.METRIC_DOCS.get(k) for k in s.summary["metrics"]}
    return _dump({"id": bid, **round_json(s.summary), "metric_docs": docs})


@_resource_errors
async def backtest_chart(bid: str, ctx: Context) -> bytes:
    """A backtest's equity and drawdown chart (PNG)."""
    return await app(ctx).results.chart(bid)


@_resource_errors
async def optimization_table(oid: str, ctx: Context, cursor: str = "") -> str:
    """An optimisation's evaluated combinations (or walk-forward splits), ranked, 100 a
    page; `next` is the URI of the following page (null on the last)."""
    table = await app(ctx).optimizations.load(oid)
    rows = table.get("rows", [])
    start, stop = _page(cursor, _TABLE_PAGE, len(rows))
    page = {**{k: v for k, v in table.items() if k not in ("rows", "view")}, "total": len(rows), "from": start,
            "next": _next(f"optimization://{oid}/table", stop, len(rows)), "rows": rows[start:stop]}  # fmt: skip
    return _dump(round_json(clean_json(page)))


@_resource_errors
async def optimization_heatmap(oid: str, ctx: Context) -> bytes:
    """Heatmap of an optimisation's objective over its first two parameters (PNG)."""
    tables = app(ctx).optimizations
    await tables.load(oid)
    return await anyio.to_thread.run_sync(tables.heatmap, oid)


@_resource_errors
async def backtest_view(bid: str, ctx: Context) -> str:
    """The report view's data for a backtest: candles in at most 2,000 buckets, trades,
    equity, drawdown and buy-and-hold (for MCP Apps views; not meant for reading)."""
    return _dump(await report_data(app(ctx), bid))


@_resource_errors
async def optimization_view(oid: str, ctx: Context, x: str = "", y: str = "") -> str:
    """The heatmap view's data (axes x and y: parameter names) of an optimisation, or the
    walk-forward view's data of a walk-forward (for MCP Apps views)."""
    context = app(ctx)
    if (await context.optimizations.load(oid)).get("kind") == "walk_forward":
        return _dump(await walkforward_data(context, oid))
    return _dump(await heatmap_data(context, oid, x=x or None, y=y or None))


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


@_resource_errors
async def job(jid: str, ctx: Context) -> str:
    """A job (see the jobs tools): state, progress, its last 20 events, and its result
    once it succeeded."""
    jobs = app(ctx).jobs

    def read() -> dict[str, Any]:
        record = jobs.get(jid)
        body: dict[str, Any] = record.model_dump(mode="json", exclude={"request"})
        body["events"] = [e.model_dump(mode="json") for e in jobs.events(jid)[-20:]]
        if record.state == "succeeded":
            body["result"] = jobs.result(jid)
        return body

    return _dump(round_json(clean_json(await anyio.to_thread.run_sync(read))))


_JSON, _PNG = "application/json", "image/png"
_RESOURCES: list[tuple[str, str, str, Callable[..., Awaitable[Any]]]] = [
    ("backtest://{bid}/trades{?cursor}", "backtest-trades", _JSON, backtest_trades),
    ("backtest://{bid}/equity{?points}", "backtest-equity", _JSON, backtest_equity),
    ("backtest://{bid}/report", "backtest-report", _JSON, backtest_report),
    ("backtest://{bid}/chart", "backtest-chart", _PNG, backtest_chart),
    ("optimization://{oid}/table{?cursor}", "optimization-table", _JSON, optimization_table),
    ("optimization://{oid}/heatmap", "optimization-heatmap", _PNG, optimization_heatmap),
    ("backtest://{bid}/view", "backtest-view", _JSON, backtest_view),
    ("optimization://{oid}/view{?x,y}", "optimization-view", _JSON, optimization_view),
    ("strategies://catalog", "strategies-catalog", _JSON, strategies_catalog),
    ("klines://{category}/{symbol}/{interval}{?start,end,limit}", "klines", _JSON, klines),
    ("job://{jid}", "job", _JSON, job),
]


def register_resources(server: MCPServer[Any]) -> None:
    """Add every resource and template to `server`."""
    for uri, name, mime, fn in _RESOURCES:
        server.resource(uri, name=name, mime_type=mime, description=fn.__doc__)(fn)
