"""Toolset `market`: get_klines, fetch_history, list_datasets, get_mtf (real Bybit data)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mcp_server.data import parse_time_ms
from mcp_server.errors import DataUnavailableError
from mcp_server.market_bridge import candle_rows
from mcp_server.marketdata import klines, mtf_rows
from mcp_server.state import AppState
from mcp_server.tools._common import (
    READ_ONLY_OPEN,
    WRITES_STORE,
    CategoryArg,
    DateArg,
    Symbol,
    instrument,
    progress,
)

__all__ = ["register"]

MarketInterval = Annotated[
    Literal["1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M"],
    Field(description="Bybit interval: minutes, D, W or M"),
]
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
    synthetic: bool = Field(description="True when these candles came from a synthetic source (the offline fake Bybit), not the exchange")


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


class Dataset(BaseModel):
    category: str
    symbol: str
    interval: str
    candles: int
    first: str | None
    last: str | None
    bytes: int
    synthetic: bool = Field(description="True when these candles came from a synthetic source (the offline fake Bybit), not the exchange")


class DatasetList(BaseModel):
    datasets: list[Dataset]
    data_dir: str


class TimeframeView(BaseModel):
    interval: str
    count: int
    last_close: float | None
    resource: str
    tail: list[Candle] = Field(description="The newest candles (up to `tail`)")


class MtfView(BaseModel):
    symbol: str
    aligned: bool
    base: str | None
    timeframes: list[TimeframeView]


def _iso(ms: int | None) -> str | None:
    from mcp_server.resources import _iso as iso

    return None if ms is None else iso(int(ms))


def register(server: MCPServer[Any], state: AppState) -> None:
    """Add the market tools to `server`."""

    @server.tool(title="Get klines", annotations=READ_ONLY_OPEN)
    @instrument(state, "get_klines")
    async def get_klines(
        symbol: Symbol = "BTCUSDT",
        interval: MarketInterval = "60",
        category: CategoryArg = "linear",
        start: DateArg = None,
        end: DateArg = None,
        limit: Annotated[int, Field(ge=1, le=5000, description="Most rows to load")] = 200,
    ) -> KlinesSummary:
        """Closed Bybit candles for a range (default: the newest `limit` bars) from the local
        store, fetching what is missing. Returns a summary and a klines:// resource URI; the
        rows themselves are inline only when there are at most 100."""
        mc = await klines(state, category, symbol, interval, start, end, limit)
        n = len(mc)
        rows = candle_rows(mc) if n <= _INLINE_ROWS else None
        query = "&".join(f"{k}={v}" for k, v in (("start", start), ("end", end)) if v)
        uri = f"klines://{category}/{symbol}/{interval}?{query + '&' if query else ''}limit={limit}"
        return KlinesSummary(
            symbol=symbol,
            interval=interval,
            category=category,
            count=n,
            first=_iso(int(mc.time[0])) if n else None,
            last=_iso(int(mc.time[-1])) if n else None,
            open=float(mc.open[0]) if n else None,
            close=float(mc.close[-1]) if n else None,
            high=float(mc.high.max()) if n else None,
            low=float(mc.low.min()) if n else None,
            change=float(mc.close[-1] / mc.open[0] - 1) if n and mc.open[0] else None,
            resource=uri,
            candles=[Candle.model_validate(r) for r in rows] if rows is not None else None,
            synthetic=state.market().is_synthetic(symbol, interval, category),
        )

    @server.tool(title="Fetch history", annotations=WRITES_STORE)
    @instrument(state, "fetch_history")
    async def fetch_history(
        start: Annotated[str, Field(min_length=4, max_length=32, description="ISO date, e.g. 2024-01-01")],
        symbol: Symbol = "BTCUSDT",
        interval: MarketInterval = "60",
        category: CategoryArg = "linear",
        end: DateArg = None,
        ctx: Context | None = None,
    ) -> HistoryReport:
        """Backfill Bybit candles for start..end (default: now) into the local store, with
        progress notifications. Idempotent: only missing ranges are fetched, and an
        interrupted backfill resumes where it stopped. Use source='store' afterwards."""
        from market.store import DatasetKey

        market = state.market()
        lo = parse_time_ms(start, name="start")
        hi = parse_time_ms(end, name="end")
        if lo is None:
            raise DataUnavailableError("start is required: an ISO date such as 2024-01-01")
        key = DatasetKey.of(category, symbol, interval)
        if hi is None:
            # The newest closed bar: the open one would be re-fetched on every call.
            from market.intervals import floor_time, interval_ms

            now = int(time.time() * 1000)
            hi = floor_time(now, key.interval) - (
                interval_ms(key.interval) if key.interval != "M" else 1
            )
        if lo > hi:
            raise DataUnavailableError(f"start {start} is after end {end or 'now'}; swap them")

        # market calls the sink synchronously from its event loop: schedule the
        # notification and await them all before returning.
        pending: list[asyncio.Task[None]] = []

        def sink(p: Any) -> None:
            msg = f"{p.candles} candles, {p.requests} requests"
            pending.append(
                asyncio.ensure_future(progress(ctx, p.candles, max(p.expected, p.candles), msg))
            )

        try:
            report = await market.fill(key, lo, hi, on_progress=sink)
        finally:
            await asyncio.gather(*pending, return_exceptions=True)
        infos = await anyio.to_thread.run_sync(market.store.datasets)
        total = next((i.candles for i in infos if i.key == key), None)
        return HistoryReport(
            symbol=key.symbol,
            interval=key.interval,
            category=key.category,
            start=_iso(lo) or "",
            end=_iso(hi) or "",
            ranges_fetched=len(report.ranges),
            candles_fetched=report.fetched,
            candles_added=report.added,
            requests=report.requests,
            exchange_gaps=len(report.gaps) if isinstance(report.gaps, list) else int(report.gaps),
            reached_first_candle=report.reached_first_candle,
            stored_total=total,
        )

    @server.tool(title="List datasets", annotations=READ_ONLY_OPEN)
    @instrument(state, "list_datasets")
    async def list_datasets() -> DatasetList:
        """Candle data sets in the local store (category, symbol, interval, count, time span).
        These can be backtested with source='store'."""
        market = state.market()
        infos = await anyio.to_thread.run_sync(market.store.datasets)
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
            data_dir=str(state.settings.server.data_dir),
        )

    @server.tool(title="Multi-timeframe view", annotations=READ_ONLY_OPEN)
    @instrument(state, "get_mtf")
    async def get_mtf(
        symbol: Symbol = "BTCUSDT",
        intervals: Annotated[
            list[MarketInterval],
            Field(min_length=1, max_length=6, description='e.g. ["1", "15", "60"]'),
        ] = ["1", "15", "60"],  # noqa: B006 - pydantic copies defaults
        base: Annotated[
            MarketInterval | None,
            Field(description="Timeframe to resample from (default: the smallest)"),
        ] = None,
        aligned: Annotated[
            bool, Field(description="Resample higher timeframes from `base` (UTC-aligned buckets)")
        ] = True,
        category: CategoryArg = "linear",
        tail: Annotated[
            int, Field(ge=0, le=50, description="Newest candles to inline per timeframe")
        ] = 5,
        load_limit: Annotated[int, Field(ge=10, le=1000)] = 1000,
    ) -> MtfView:
        """Aligned multi-timeframe view: the newest candles of each timeframe, higher ones
        resampled from `base` with UTC-aligned buckets (days at 00:00, weeks on Monday), as
        the REST endpoint /api/v1/marketdata/bybit/mtf. Rows beyond `tail` are in klines://."""
        views = await mtf_rows(
            state,
            symbol,
            intervals,
            base=base,
            aligned=aligned,
            load_limit=load_limit,
            category=category,
        )
        return MtfView(
            symbol=symbol,
            aligned=aligned,
            base=base,
            timeframes=[
                TimeframeView(
                    interval=label,
                    count=len(rows),
                    last_close=float(rows[-1]["close"]) if rows else None,
                    resource=f"klines://{category}/{symbol}/{label}?limit={len(rows) or 1}",
                    tail=[Candle.model_validate(r) for r in rows[len(rows) - tail :]] if tail else [],
                )
                for label, rows in views.items()
            ],
        )
