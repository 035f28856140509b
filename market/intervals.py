"""Bybit kline intervals and the calendar arithmetic that goes with them.

All times are integer milliseconds since the Unix epoch, UTC. Minute buckets
align to multiples of their length since the epoch, D to 00:00 UTC, W to the
ISO Monday 00:00 UTC, M to the first day of the calendar month.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from market.errors import UnknownIntervalError

__all__ = [
    "BYBIT_INTERVALS",
    "MINUTE_MS",
    "floor_time",
    "floor_times",
    "interval_ms",
    "is_calendar_month",
    "next_open",
    "normalize_interval",
]

MINUTE_MS: Final = 60_000
DAY_MS: Final = 86_400_000
WEEK_MS: Final = 7 * DAY_MS
# 1970-01-01 was a Thursday; the first ISO Monday is 4 days later.
_MONDAY_OFFSET_MS: Final = 4 * DAY_MS

BYBIT_INTERVALS: Final[tuple[str, ...]] = (
    "1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M",
)  # fmt: skip

_ALIASES: Final[dict[str, str]] = {
    "1m": "1", "3m": "3", "5m": "5", "15m": "15", "30m": "30",
    "1h": "60", "2h": "120", "4h": "240", "6h": "360", "12h": "720",
    "1d": "D", "1w": "W", "1M": "M", "d": "D", "w": "W",
}  # fmt: skip


def normalize_interval(interval: str | int, *, native_only: bool = True) -> str:
    """Return the canonical interval string ("1" ... "720", "D", "W", "M").

    With `native_only=False` any positive whole number of minutes is accepted,
    for resampling targets Bybit does not serve (e.g. "480" for 8h).
    """
    text = str(interval).strip()
    text = _ALIASES.get(text, text)
    if text in BYBIT_INTERVALS:
        return text
    if not native_only and text.isdigit() and int(text) > 0:
        return str(int(text))
    raise UnknownIntervalError(str(interval), BYBIT_INTERVALS)


def is_calendar_month(interval: str) -> bool:
    """True for "M", whose length varies."""
    return interval == "M"


def interval_ms(interval: str) -> int:
    """Length of one candle in ms. For "M" this is a nominal 31 days (an upper bound)."""
    if interval == "D":
        return DAY_MS
    if interval == "W":
        return WEEK_MS
    if interval == "M":
        return 31 * DAY_MS
    return int(interval) * MINUTE_MS


def floor_times(times: npt.NDArray[np.int64], interval: str) -> npt.NDArray[np.int64]:
    """Open time of the bucket containing each timestamp (vectorised)."""
    t = np.asarray(times, dtype=np.int64)
    if interval == "M":
        months = t.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype(np.int64)
    if interval == "W":
        return ((t - _MONDAY_OFFSET_MS) // WEEK_MS) * WEEK_MS + _MONDAY_OFFSET_MS
    step = interval_ms(interval)
    return (t // step) * step


def floor_time(ms: int, interval: str) -> int:
    """Open time of the candle containing `ms`."""
    return int(floor_times(np.array([ms], dtype=np.int64), interval)[0])


def next_open(open_ms: int, interval: str) -> int:
    """Open time of the candle after the one opening at `open_ms` (its close time + 1 ms)."""
    if interval == "M":
        month = np.datetime64(open_ms, "ms").astype("datetime64[M]") + 1
        return int(month.astype("datetime64[ms]").astype(np.int64))
    return open_ms + interval_ms(interval)


def next_opens(times: npt.NDArray[np.int64], interval: str) -> npt.NDArray[np.int64]:
    """Vectorised `next_open`."""
    t = np.asarray(times, dtype=np.int64)
    if interval == "M":
        months = t.astype("datetime64[ms]").astype("datetime64[M]") + 1
        return months.astype("datetime64[ms]").astype(np.int64)
    return t + interval_ms(interval)
