"""Toolset `live`: watch_market (the latest streamed candles and ticker of a symbol)."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.candles import DEFAULT_SYMBOL, CategoryArg, IntervalArg, SymbolArg
from mcp_server.tools._runtime import READ_ONLY, app, tool
from ohlcv import format_iso

__all__ = ["watch_market"]

_TICKER_FIELDS = ("lastPrice", "markPrice", "indexPrice", "bid1Price", "ask1Price",
                  "price24hPcnt", "volume24h", "fundingRate", "openInterest")  # fmt: skip


class LiveCandle(BaseModel):
    interval: str
    start: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool
    source: str
    age_s: float | None = Field(description="Seconds since this update arrived")


class LiveMarket(BaseModel):
    symbol: str
    category: str
    candles: list[LiveCandle]
    ticker: dict[str, str] | None
    ticker_age_s: float | None
    connections: list[dict[str, Any]]


@tool("Watch live market", READ_ONLY)
async def watch_market(
    ctx: Context,
    symbol: SymbolArg = DEFAULT_SYMBOL,
    intervals: Annotated[list[IntervalArg], Field(min_length=1, max_length=6)] = ["1"],  # noqa: B006
    category: CategoryArg = "linear",
) -> LiveMarket:
    """Latest live candles (open or just closed) and ticker of a streamed symbol, with ages.
    Needs the live stream (BYBIT_WS_ENABLED=1, or `bybit-tester live` with Redis)."""
    snap = await app(ctx).live.snapshot(symbol, [str(i) for i in intervals], category)
    candles = [
        LiveCandle(
            interval=iv,
            start=format_iso(int(e["start"])),
            open=float(e["open"]),
            high=float(e["high"]),
            low=float(e["low"]),
            close=float(e["close"]),
            volume=float(e["volume"]),
            closed=bool(e["closed"]),
            source=str(e["source"]),
            age_s=snap["ages"].get(iv),
        )
        for iv, e in snap["candles"].items()
    ]
    ticker = snap["ticker"]
    return LiveMarket(
        symbol=symbol, category=category, candles=candles,
        ticker={k: str(ticker[k]) for k in _TICKER_FIELDS if ticker.get(k) not in (None, "")}
        if ticker else None,
        ticker_age_s=snap["ticker_age_s"], connections=snap["connections"],
    )  # fmt: skip
