"""Toolset `market`: get_klines, fetch_history, list_datasets, get_mtf (Bybit data)."""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

import market as M
from mcp_server import market_views
from mcp_server.candles import (
    DEFAULT_INTERVAL,
    DEFAULT_SYMBOL,
    CategoryArg,
    IntervalArg,
    SymbolArg,
    TimeArg,
)
from mcp_server.errors import DataUnavailableError
from mcp_server.tools._jobwait import backfill_of, run_as_job
from mcp_server.tools._runtime import READ_ONLY_OPEN, WRITES_STORE, app, progress, tool, tool_result
from mcp_server.tools._ticket import Wait
from ohlcv import Candles, Interval, format_iso, now_ms, parse_time_ms

__all__ = ["fetch_history", "get_klines", "get_mtf", "history_answer", "history_report", "list_datasets"]

_INLINE_ROWS = 100


class Candle(BaseModel):
    time: int = Field(description="Bar open time, epoch seconds UTC")
    open: float
    high: float
    low: float
    close: float
    volume: float


class KlinesSummary(BaseModel):
    """A range of candles: summary always, rows inline only for small ranges."""

    symbol: str
    interval: str
    category: str
    count: int
    first: str | None
    last: str | None
    open: float | None = Field(description="Open of the first candle")
    close: float | None = Field(description="Close of the last candle")
    high: float | None
    low: float | None
    change: float | None = Field(description="close/open - 1 over the range")
    resource: str = Field(description="klines:// URI with every row")
    candles: list[Candle] | None = Field(None, description=f"Rows, when at most {_INLINE_ROWS}")
    synthetic: bool = Field(
        description="True when these candles came from a synthetic source (the offline fake "
        "Bybit), not the exchange"
    )
    provenance: str = Field(description="Where the candles came from, in words")


class HistoryReport(BaseModel):
    symbol: str
    interval: str
    category: str
    start: str
    end: str
    ranges_fetched: int
    candles_fetched: int
    candles_added: int
    requests: int
    exchange_gaps: int
    reached_first_candle: bool
    stored_total: int | None
    complete: bool = Field(description="False: candles are missing; call again to resume")
    stored: int = Field(description="Candles stored in start..end")
    first: str | None
    last: str | None
    missing: int = Field(description="Candles in start..end not stored")
    note: str


class Dataset(BaseModel):
    category: str
    symbol: str
    interval: str
    candles: int
    first: str | None
    last: str | None
    bytes: int
    synthetic: bool = Field(
        description="True when these candles came from a synthetic source (the offline fake "
        "Bybit), not the exchange"
    )


class DatasetList(BaseModel):
    datasets: list[Dataset]
    data_dir: str
    live: list[str] | None = Field(None, description="Candle channels streaming now (watch_market)")


class TimeframeView(BaseModel):
    interval: str
    count: int
    last_close: float | None
    partial_first: bool = Field(description="The first bucket starts before the loaded data")
    partial_last: bool = Field(description="The last bucket has not closed yet (still forming)")
    resource: str
    tail: list[Candle] = Field(description="The newest candles (up to `tail`)")


class MtfView(BaseModel):
    symbol: str
    aligned: bool
    base: str | None
    timeframes: list[TimeframeView]
    synthetic: bool = Field(description="True when any timeframe's candles are synthetic (the offline fake Bybit)")
    provenance: str = Field(description="Where the candles came from, in words")


def _iso(ms: int | None) -> str | None:
    return None if ms is None else format_iso(int(ms))


def _rows(candles: Candles) -> list[Candle]:
    return [Candle.model_validate(r) for r in market_views.candle_rows(candles)]


@tool("Get klines", READ_ONLY_OPEN)
async def get_klines(
    ctx: Context,
    symbol: SymbolArg = DEFAULT_SYMBOL,
    interval: IntervalArg = DEFAULT_INTERVAL,
    category: CategoryArg = "linear",
    start: TimeArg = None,
    end: TimeArg = None,
    limit: Annotated[int, Field(ge=1, le=5000, description="Most rows to load")] = 200,
) -> KlinesSummary:
    """Closed Bybit candles for a range (default: the newest `limit` bars) from the local
    store, fetching what is missing. Returns a summary and a klines:// resource URI; the
    rows themselves are inline only when there are at most 100."""
    c = await market_views.klines(app(ctx), category, symbol, interval, start, end, limit)
    n = len(c)
    query = "&".join(f"{k}={v}" for k, v in (("start", start), ("end", end)) if v)
    uri = f"klines://{category}/{symbol}/{interval}?{query + '&' if query else ''}limit={limit}"
    return KlinesSummary(
        symbol=symbol,
        interval=interval,
        category=category,
        count=n,
        first=_iso(int(c.time[0])) if n else None,
        last=_iso(int(c.time[-1])) if n else None,
        open=float(c.open[0]) if n else None,
        close=float(c.close[-1]) if n else None,
        high=float(c.high.max()) if n else None,
        low=float(c.low.min()) if n else None,
        change=float(c.close[-1] / c.open[0] - 1) if n and c.open[0] else None,
        resource=uri,
        candles=_rows(c) if n <= _INLINE_ROWS else None,
        synthetic=c.synthetic,
        provenance=market_views.data_label(c).text,
    )


def _newest_closed_open(interval: Interval) -> int:
    """Open time of the newest closed bar: the open one would be fetched again on every call."""
    current = interval.floor(now_ms())
    return interval.floor(current - 1)


@tool("Fetch history", WRITES_STORE)
async def fetch_history(
    ctx: Context,
    start: Annotated[str, Field(min_length=4, max_length=32, description="ISO date, e.g. 2024-01-01")],
    symbol: SymbolArg = DEFAULT_SYMBOL,
    interval: IntervalArg = DEFAULT_INTERVAL,
    category: CategoryArg = "linear",
    end: TimeArg = None,
    wait: Wait = True,
) -> Annotated[CallToolResult, HistoryReport]:
    """Backfill Bybit candles for start..end (default: now) into the local store, with
    progress notifications. Idempotent: only missing ranges are fetched, and an
    interrupted backfill resumes where it stopped; `complete` false says what is missing.
    Use source='store' afterwards."""
    key = M.DatasetKey.of(category, symbol, interval)
    lo = parse_time_ms(start, name="start")
    hi = parse_time_ms(end, name="end")
    assert lo is not None  # start is required and non-blank
    if hi is None:
        hi = _newest_closed_open(Interval.parse(key.interval))
    if lo > hi:
        raise DataUnavailableError(f"start {start} is after end {end or 'now'}; swap them")
    context = app(ctx)
    if not (wait and context.market_given):
        # a job on the `backfill` queue (the embedded worker, or the broker's workers filling
        # the store jobs load candles from); a MarketData given to the context is used here
        base = context.settings.server.bybit_base_url
        submit = functools.partial(
            context.jobs.submit_backfill, backfill_of(key, lo, hi), base_url=base, window=(lo, hi)
        )
        return await run_as_job(ctx, context.jobs, submit, wait, history_answer)
    market = context.market()
    # market calls the sink synchronously from its event loop: schedule the
    # notifications and await them all before returning.
    pending: list[asyncio.Task[None]] = []

    def sink(p: M.FetchProgress) -> None:
        msg = f"{p.candles} candles, {p.requests} requests"
        pending.append(
            asyncio.ensure_future(progress(ctx, p.candles, max(p.expected, p.candles), msg))
        )

    try:
        report = await market.backfill(key, lo, hi, on_progress=sink)
    finally:
        await asyncio.gather(*pending, return_exceptions=True)
    if report.error is not None and report.added == 0 and not report.complete:
        raise report.error  # nothing gained: the error and its fix are the answer
    infos = await anyio.to_thread.run_sync(market.store.datasets)
    total = next((i.candles for i in infos if i.key == key), None)
    return tool_result(history_report(key, lo, hi, report, total).model_dump(mode="json"))


def history_answer(payload: dict[str, Any]) -> CallToolResult:
    """fetch_history's answer from its job's result (the error, when it gained nothing)."""
    if payload.get("error"):
        raise ToolError(payload["error"])
    fields = {k: v for k, v in payload.items() if k != "error"}
    return tool_result(HistoryReport.model_validate(fields).model_dump(mode="json"))


def history_report(
    key: M.DatasetKey, lo: int, hi: int, report: M.BackfillReport, stored_total: int | None
) -> HistoryReport:
    """fetch_history's answer for a backfill of `lo`..`hi` (here or on a worker)."""
    return HistoryReport(
        symbol=key.symbol,
        interval=key.interval,
        category=key.category,
        start=format_iso(lo),
        end=format_iso(hi),
        ranges_fetched=len(report.ranges),
        candles_fetched=report.fetched,
        candles_added=report.added,
        requests=report.requests,
        exchange_gaps=len(report.gaps),
        reached_first_candle=report.reached_first_candle,
        stored_total=stored_total,
        complete=report.complete,
        stored=report.stored,
        first=_iso(report.first),
        last=_iso(report.last),
        missing=report.missing,
        note=market_views.backfill_note(report),
    )


@tool("List datasets", READ_ONLY_OPEN)
async def list_datasets(ctx: Context) -> DatasetList:
    """Candle data sets in the local store (category, symbol, interval, count, time span).
    These can be backtested with source='store'."""
    context = app(ctx)
    infos = await anyio.to_thread.run_sync(context.store.datasets)
    return DatasetList(
        datasets=[
            Dataset(
                category=i.key.category,
                symbol=i.key.symbol,
                interval=i.key.interval,
                candles=i.candles,
                first=_iso(i.first),
                last=_iso(i.last),
                bytes=i.bytes,
                synthetic=i.synthetic,
            )
            for i in infos[:200]
        ],
        data_dir=str(context.settings.server.data_dir),
        live=context.live.streaming() or None,
    )


@tool("Multi-timeframe view", READ_ONLY_OPEN)
async def get_mtf(
    ctx: Context,
    symbol: SymbolArg = DEFAULT_SYMBOL,
    intervals: Annotated[
        list[IntervalArg], Field(min_length=1, max_length=6, description='e.g. ["1", "15", "60"]')
    ] = ["1", "15", "60"],  # noqa: B006 - pydantic copies defaults
    base: Annotated[
        IntervalArg | None, Field(description="Timeframe to resample from (default: the smallest)")
    ] = None,
    aligned: Annotated[
        bool, Field(description="Resample higher timeframes from `base` (UTC-aligned buckets)")
    ] = True,
    category: CategoryArg = "linear",
    tail: Annotated[int, Field(ge=0, le=50, description="Newest candles to inline per timeframe")] = 5,
    load_limit: Annotated[int, Field(ge=10, le=1000)] = 1000,
) -> MtfView:
    """Aligned multi-timeframe view: the newest candles of each timeframe, higher ones
    resampled from `base` in UTC buckets; a bucket not fully covered is marked partial."""
    views = await market_views.mtf(
        app(ctx), symbol, intervals, base=base, aligned=aligned, load_limit=load_limit,
        category=category,
    )  # fmt: skip
    data = market_views.data_label(*(tf.candles for tf in views.values()))
    return MtfView(
        symbol=symbol,
        aligned=aligned,
        base=base,
        timeframes=[_timeframe(label, tf, category, symbol, tail) for label, tf in views.items()],
        synthetic=data.synthetic,
        provenance=data.text,
    )


def _timeframe(label: str, tf: M.Timeframe, category: str, symbol: str, tail: int) -> TimeframeView:
    c = tf.candles
    return TimeframeView(
        interval=label,
        count=len(c),
        last_close=float(c.close[-1]) if len(c) else None,
        partial_first=tf.partial_first,
        partial_last=tf.partial_last,
        resource=f"klines://{category}/{symbol}/{label}?limit={len(c) or 1}",
        tail=_rows(c.tail(tail)) if tail else [],
    )
