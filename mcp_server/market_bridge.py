"""Glue between `market` (exchange data) and `engine` (backtests): the only place that knows both.

`market.Candles` carries turnover and NaN volume; the engine wants validated
`engine.Candles`. Conversion happens here so neither package imports the other.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

import engine as E
from mcp_server.data import parse_time_ms
from mcp_server.errors import DataUnavailableError

if TYPE_CHECKING:
    from mcp_server.data import DataSpec

__all__ = ["candle_rows", "load_market_candles", "to_engine_candles"]


def to_engine_candles(
    mc: Any, *, symbol: str, interval: str, synthetic: bool = False
) -> E.Candles:
    """`market.Candles` -> validated `engine.Candles` (NaN volume becomes 0); ``synthetic``
    labels them (and every result made from them) as not market data."""
    volume = np.nan_to_num(np.asarray(mc.volume, dtype=np.float64), nan=0.0)
    return E.make_candles(
        mc.time, mc.open, mc.high, mc.low, mc.close, volume, symbol=symbol, interval=interval,
        synthetic=synthetic,
    )


async def load_market_candles(market: Any, spec: DataSpec, max_bars: int) -> E.Candles:
    """The spec's range from `market.MarketData`: [start, end], or the last `bars` bars."""
    end = parse_time_ms(spec.end, name="end")
    start = parse_time_ms(spec.start, name="start")
    minutes = E.interval_minutes(spec.interval)
    if minutes is None:
        raise DataUnavailableError("interval M is not supported for backtests; use D or W")
    step = minutes * 60_000
    if start is None:
        anchor = end if end is not None else int(time.time() * 1000)
        start = anchor - spec.bars * step
    if end is not None and start >= end:
        raise DataUnavailableError(f"start must be before end (got {spec.start} .. {spec.end})")
    if end is not None and (end - start) // step > max_bars:
        raise DataUnavailableError(
            f"{spec.start}..{spec.end} holds more than {max_bars} bars of {spec.interval}; "
            "shorten the range or use a longer interval"
        )
    mc = await market.get_candles(spec.symbol, spec.interval, start, end, spec.category)
    candles = to_engine_candles(
        mc, symbol=spec.symbol, interval=spec.interval,
        synthetic=market.is_synthetic(spec.symbol, spec.interval, spec.category),
    )
    if spec.start is None and len(candles) > spec.bars:
        candles = candles.slice(len(candles) - spec.bars, len(candles))
    return candles


def candle_rows(mc: Any, limit: int | None = None) -> list[dict[str, float | int]]:
    """Candles as the seeds' JSON rows: time in seconds (UTC), open, high, low, close, volume."""
    n = len(mc)
    lo = 0 if limit is None else max(0, n - limit)
    rows: list[dict[str, float | int]] = []
    t, o, h, lo_, c, v = mc.time, mc.open, mc.high, mc.low, mc.close, mc.volume
    for i in range(lo, n):
        vol = float(v[i])
        rows.append(
            {
                "time": int(t[i]) // 1000,
                "open": float(o[i]),
                "high": float(h[i]),
                "low": float(lo_[i]),
                "close": float(c[i]),
                "volume": 0.0 if vol != vol else vol,  # NaN -> 0: JSON has no NaN
            }
        )
    return rows
