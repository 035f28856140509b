"""Exchange candles as the market tools, the klines resource and the REST routes show them.

Unlike the candle source (which only reads the store), these views read
through: the store first, the exchange for whatever closed candles it lacks.
"""

from __future__ import annotations

from collections.abc import Sequence

import market as M
from mcp_server.context import AppContext
from mcp_server.errors import DataUnavailableError, lookup
from ohlcv import Candles, DataLabel, Interval, describe_data, now_ms, parse_time_ms

__all__ = ["backfill_note", "candle_rows", "data_label", "klines", "mtf", "working_set"]

CandleRow = dict[str, float | int]


async def klines(
    app: AppContext,
    category: str,
    symbol: str,
    interval: str,
    start: str | None,
    end: str | None,
    limit: int,
) -> Candles:
    """Closed candles in [start, end] (default: the newest `limit`), at most `limit` rows;
    a range larger than `limit` keeps its beginning, as paging would."""
    step = Interval.parse(interval).ms
    end_ms = parse_time_ms(end, name="end")
    start_ms = parse_time_ms(start, name="start")
    if start_ms is None:
        start_ms = (end_ms if end_ms is not None else now_ms()) - limit * step
    if end_ms is not None and start_ms > end_ms:
        raise DataUnavailableError(f"start {start} is after end {end}; swap them")
    candles = await app.market().get_candles(symbol.upper(), interval, start_ms, end_ms, category)
    if len(candles) > limit:
        candles = candles.slice(0, limit) if start is not None else candles.tail(limit)
    return candles


async def working_set(
    app: AppContext, symbol: str, interval: str, category: str, load_limit: int
) -> Candles:
    """The seeds' working set: the newest 500 closed candles, loaded once then topped up."""
    return await app.market().working_set(
        symbol.upper(), interval, category, size=500, load_limit=load_limit
    )


async def mtf(
    app: AppContext,
    symbol: str,
    intervals: Sequence[str],
    *,
    base: str | None,
    aligned: bool,
    load_limit: int,
    category: str,
) -> dict[str, M.Timeframe]:
    """Several timeframes, resampled from `base` when aligned, partial buckets marked."""
    return await app.market().mtf(
        symbol.upper(), list(intervals), base=base, aligned=aligned, category=category,
        load_limit=load_limit,
    )  # fmt: skip


def data_label(*candles: Candles) -> DataLabel:
    """How these views word their data: read through the store from the exchange client,
    so synthetic candles are the offline fake Bybit's."""
    return describe_data("exchange", any(c.synthetic for c in candles))


def candle_rows(candles: Candles) -> list[CandleRow]:
    """The seeds' JSON rows: time in seconds (UTC), open, high, low, close, volume (NaN -> 0)."""
    t, o, h, lo, c, v = (
        candles.time, candles.open, candles.high, candles.low, candles.close, candles.volume
    )
    return [
        {
            "time": int(t[i]) // 1000,
            "open": float(o[i]),
            "high": float(h[i]),
            "low": float(lo[i]),
            "close": float(c[i]),
            "volume": 0.0 if v[i] != v[i] else float(v[i]),  # JSON has no NaN
        }
        for i in range(len(candles))
    ]


def backfill_note(report: M.BackfillReport) -> str:
    """The report's note, with the error table's fix for the error that stopped it."""
    problem = lookup(report.error) if report.error is not None else None
    return f"{report.note}; {problem.hint}" if problem and problem.hint else report.note
