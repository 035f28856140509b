"""Market data operations shared by the market tools, the klines resource and the REST routes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp_server.data import parse_time_ms
from mcp_server.errors import DataUnavailableError
from mcp_server.market_bridge import candle_rows

if TYPE_CHECKING:
    from mcp_server.state import AppState

__all__ = ["interval_ms", "klines", "klines_rows", "mtf_rows", "working_rows"]


def interval_ms(interval: str) -> int:
    """Length of one bar; D/W fixed, M approximated as 31 days (only used to size ranges)."""
    from market.intervals import interval_ms as _ms
    from market.intervals import normalize_interval

    label = normalize_interval(interval)
    if label == "M":
        return 31 * 86_400_000
    return int(_ms(label))


async def klines(
    state: AppState,
    category: str,
    symbol: str,
    interval: str,
    start: str | None,
    end: str | None,
    limit: int,
) -> Any:
    """`market.Candles` for [start, end] (default: the newest `limit` bars), at most `limit` rows."""
    market = state.market()
    end_ms = parse_time_ms(end, name="end")
    start_ms = parse_time_ms(start, name="start")
    step = interval_ms(interval)
    if start_ms is None:
        anchor = end_ms if end_ms is not None else int(time.time() * 1000)
        start_ms = anchor - limit * step
    if end_ms is not None and start_ms > end_ms:
        raise DataUnavailableError(f"start {start} is after end {end}; swap them")
    mc = await market.get_candles(symbol.upper(), interval, start_ms, end_ms, category)
    if len(mc) > limit:
        # A start..end range bigger than the limit keeps its beginning, like paging would.
        mc = (
            mc.take(slice(0, limit))
            if start is not None
            else mc.take(slice(len(mc) - limit, len(mc)))
        )
    return mc


async def klines_rows(
    state: AppState,
    category: str,
    symbol: str,
    interval: str,
    start: str | None,
    end: str | None,
    limit: int,
) -> tuple[list[dict[str, float | int]], dict[str, Any]]:
    """Rows (the seeds' candle JSON) plus a small header."""
    mc = await klines(state, category, symbol, interval, start, end, limit)
    rows = candle_rows(mc)
    meta = {
        "category": category,
        "symbol": symbol.upper(),
        "interval": interval,
        "count": len(rows),
        "synthetic": state.market().is_synthetic(symbol.upper(), interval, category),
    }
    return rows, meta


async def working_rows(
    state: AppState, symbol: str, interval: str, load_limit: int, category: str = "linear"
) -> list[dict[str, float | int]]:
    """The seeds' working set: the newest 500 closed candles, loaded once then topped up."""
    market = state.market()
    ws = await market.working_set(symbol.upper(), interval, category, load_limit=load_limit)
    return candle_rows(ws)


async def mtf_rows(
    state: AppState,
    symbol: str,
    intervals: Sequence[str],
    *,
    base: str | None,
    aligned: bool,
    load_limit: int,
    category: str = "linear",
) -> dict[str, list[dict[str, float | int]]]:
    """Several timeframes, resampled from `base` when aligned (the seeds' alignment rules)."""
    market = state.market()
    views = await market.mtf(
        symbol.upper(),
        list(intervals),
        base=base,
        aligned=aligned,
        category=category,
        load_limit=load_limit,
    )
    return {label: candle_rows(c) for label, c in views.items()}
