"""Multi-timeframe resampling with the alignment rules users were promised.

Minute buckets are aligned to epoch multiples, ``D`` starts at 00:00 UTC, ``W``
at ISO Monday 00:00 UTC and ``M`` at the first of the calendar month.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.candles import MINUTE_MS, Candles, interval_minutes
from engine.errors import InvalidParameterError

_DAY_MS = 1440 * MINUTE_MS
_WEEK_MS = 7 * _DAY_MS
_MONDAY_OFFSET_MS = 4 * _DAY_MS  # 1970-01-01 was a Thursday; 1970-01-05 a Monday

VALID_INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")


def bucket_starts(time_ms: npt.NDArray[np.int64], interval: str) -> npt.NDArray[np.int64]:
    """Open time (epoch ms) of the ``interval`` bucket each timestamp falls in."""
    label = str(interval).upper()
    if label == "M":
        months = time_ms.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype(np.int64)
    if label == "W":
        return ((time_ms - _MONDAY_OFFSET_MS) // _WEEK_MS) * _WEEK_MS + _MONDAY_OFFSET_MS
    minutes = interval_minutes(label)
    if minutes is None or minutes <= 0:
        raise InvalidParameterError(
            f"unknown interval {interval!r}; use one of {', '.join(VALID_INTERVALS)}"
        )
    step = minutes * MINUTE_MS
    return (time_ms // step) * step


def resample(candles: Candles, interval: str, *, drop_partial: bool = False) -> Candles:
    """Aggregate candles into ``interval`` bars (open first, high max, low min, close last, volume sum).

    ``drop_partial`` removes a last bucket that the input does not fill completely
    (judged by the input's bar length), so a still-forming bar is never shown as final.
    """
    if len(candles) == 0:
        return candles
    starts = bucket_starts(candles.time, interval)
    edges = np.flatnonzero(np.diff(starts)) + 1
    idx = np.concatenate(([0], edges))
    out_time = starts[idx]
    o = candles.open[idx]
    h = np.maximum.reduceat(candles.high, idx)
    lo = np.minimum.reduceat(candles.low, idx)
    last = np.concatenate((edges - 1, [len(candles) - 1]))
    c = candles.close[last]
    v = np.add.reduceat(candles.volume, idx)
    result = Candles(
        out_time, o, h, lo, c, v, candles.symbol, str(interval).upper(), candles.synthetic,
        dict(candles.meta),
    )
    if drop_partial and len(result) > 0:
        base_ms = round(candles.bar_minutes * MINUTE_MS)
        next_start = _next_bucket_start(int(out_time[-1]), str(interval).upper())
        if int(candles.time[-1]) + base_ms < next_start:
            result = result.slice(0, len(result) - 1)
    return result


def _next_bucket_start(start_ms: int, interval: str) -> int:
    if interval == "M":
        m = np.datetime64(start_ms, "ms").astype("datetime64[M]") + 1
        return int(m.astype("datetime64[ms]").astype(np.int64))
    if interval == "W":
        return start_ms + _WEEK_MS
    minutes = interval_minutes(interval)
    assert minutes is not None
    return start_ms + minutes * MINUTE_MS
