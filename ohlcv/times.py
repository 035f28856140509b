"""Reading and writing times: ISO 8601 text or epoch seconds/milliseconds in, UTC ms out.

Every surface (tools, REST, CLI, files) reads user times with `parse_time_ms`
and prints them with `format_iso` or `format_minute`, so the same input means
the same instant everywhere.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from ohlcv.errors import InvalidTimeError

__all__ = [
    "epoch_ms_array",
    "format_iso",
    "format_minute",
    "now_ms",
    "parse_time_ms",
    "to_epoch_ms",
]

# Epoch numbers below this are seconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_SECONDS_BELOW: Final = 100_000_000_000
# Times outside 1970-01-01 .. 2200-01-01 are typos, not market data (and some would not
# even fit a datetime).
_LATEST_MS: Final = 7_258_118_400_000
_EPOCH_DIGITS = re.compile(r"^[0-9]+$")


def to_epoch_ms(value: int | float) -> int:
    """Epoch seconds or milliseconds (told apart by size) as milliseconds."""
    v = int(value)
    return v * 1000 if abs(v) < _SECONDS_BELOW else v


def epoch_ms_array(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """A column of epoch seconds or milliseconds (told apart by its largest value), or
    datetime64, as int64 milliseconds."""
    t = np.asarray(values)
    if t.dtype.kind == "M":
        return np.ascontiguousarray(t.astype("datetime64[ms]").astype(np.int64))
    t = np.ascontiguousarray(t, dtype=np.int64)
    peak = int(np.abs(t).max()) if t.size else 0
    return t * 1000 if to_epoch_ms(peak) != peak else t


def parse_time_ms(value: str | int | float | datetime | date | None, *, name: str = "time") -> int | None:
    """UTC epoch ms of ISO text (a date, or a datetime; no zone means UTC), epoch
    seconds or milliseconds, or a datetime, between 1970 and 2200. None or blank text
    gives None; anything else raises InvalidTimeError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ms = _to_ms(value)
    except (ValueError, OverflowError, TypeError):
        raise InvalidTimeError(name, value) from None
    if not 0 <= ms <= _LATEST_MS:
        raise InvalidTimeError(name, value)
    return ms


def _to_ms(value: str | int | float | datetime | date) -> int:
    if isinstance(value, bool):
        raise TypeError("a bool is not a time")
    if isinstance(value, int | float):
        return to_epoch_ms(value)
    if isinstance(value, datetime):
        return _datetime_ms(value)
    if isinstance(value, date):
        return _datetime_ms(datetime(value.year, value.month, value.day))
    raw = str(value).strip()
    if _EPOCH_DIGITS.match(raw):
        return to_epoch_ms(int(raw))
    return _datetime_ms(datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00")))


def _datetime_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def format_iso(ms: int) -> str:
    """`2024-03-01T12:00:00Z`: the form results and resources carry."""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_minute(ms: int) -> str:
    """`2024-03-01 12:00`: the form tables and one-line messages print."""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def now_ms() -> int:
    """The wall clock in epoch ms."""
    return int(time.time() * 1000)
