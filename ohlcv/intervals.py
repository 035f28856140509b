"""Bybit kline intervals: labels, bar length and bucket alignment, in one place.

All times are integer milliseconds since the Unix epoch, UTC. Buckets align as
Bybit aligns them: N-minute buckets on multiples of N minutes since the epoch,
D at 00:00 UTC, W on the ISO Monday 00:00 UTC, M on the 1st of the calendar
month. The vectorised functions take a canonical label; `Interval` is the value
type callers hold (parse once, then ask it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from ohlcv.errors import ResampleError, UnknownIntervalError

__all__ = [
    "DAY_MS",
    "INTERVALS",
    "MINUTE_MS",
    "WEEK_MS",
    "Interval",
    "IntervalLabel",
    "can_resample",
    "floor_time",
    "floor_times",
    "interval_ms",
    "next_open",
    "next_opens",
    "normalize_interval",
]

MINUTE_MS: Final = 60_000
DAY_MS: Final = 86_400_000
WEEK_MS: Final = 7 * DAY_MS
MINUTES_PER_YEAR: Final = 365 * 24 * 60
# 1970-01-01 was a Thursday; the first ISO Monday is 4 days later.
_MONDAY_OFFSET_MS: Final = 4 * DAY_MS

IntervalLabel = Literal["1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M"]
INTERVALS: Final[tuple[str, ...]] = get_args(IntervalLabel)

_ALIASES: Final[dict[str, str]] = {
    "1m": "1", "3m": "3", "5m": "5", "15m": "15", "30m": "30",
    "1h": "60", "2h": "120", "4h": "240", "6h": "360", "12h": "720",
    "1d": "D", "1w": "W", "1M": "M", "d": "D", "w": "W",
    "1D": "D", "1W": "W", "1H": "60",
}  # fmt: skip

I64 = npt.NDArray[np.int64]


def normalize_interval(interval: str | int, *, native_only: bool = True) -> str:
    """The canonical label ("1" ... "720", "D", "W", "M") of a label or alias.

    With `native_only=False` any positive whole number of minutes is accepted too,
    for resampling targets Bybit does not serve (e.g. "480" for 8 hours).
    """
    text = str(interval).strip()
    text = _ALIASES.get(text, text)
    if text in INTERVALS:
        return text
    if text.isdigit() and int(text) > 0 and (not native_only or str(int(text)) in INTERVALS):
        return str(int(text))
    raise UnknownIntervalError(str(interval), INTERVALS)


def interval_ms(label: str) -> int:
    """Length of one bar in ms; for "M" a nominal 31 days (an upper bound, for sizing ranges)."""
    if label == "D":
        return DAY_MS
    if label == "W":
        return WEEK_MS
    if label == "M":
        return 31 * DAY_MS
    return int(label) * MINUTE_MS


def floor_times(times: npt.ArrayLike, label: str) -> I64:
    """Open time of the bucket containing each timestamp (vectorised)."""
    t = np.asarray(times, dtype=np.int64)
    if label == "M":
        months = t.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype(np.int64)
    if label == "W":
        return ((t - _MONDAY_OFFSET_MS) // WEEK_MS) * WEEK_MS + _MONDAY_OFFSET_MS
    step = interval_ms(label)
    return (t // step) * step


def next_opens(times: npt.ArrayLike, label: str) -> I64:
    """Open time of the bar after each bar opening at `times` (its close time + 1 ms)."""
    t = np.asarray(times, dtype=np.int64)
    if label == "M":
        months = t.astype("datetime64[ms]").astype("datetime64[M]") + 1
        return months.astype("datetime64[ms]").astype(np.int64)
    return t + interval_ms(label)


def floor_time(ms: int, label: str) -> int:
    """Open time of the bar containing `ms`."""
    return int(floor_times(np.array([ms], dtype=np.int64), label)[0])


def next_open(open_ms: int, label: str) -> int:
    """Open time of the bar after the one opening at `open_ms`."""
    return int(next_opens(np.array([open_ms], dtype=np.int64), label)[0])


def can_resample(base: str, target: str) -> bool:
    """Whether every `target` bucket is a whole number of `base` bars."""
    base = normalize_interval(base, native_only=False)
    target = normalize_interval(target, native_only=False)
    if base == target:
        return True
    if base in ("W", "M"):
        return False
    if target in ("W", "M"):
        return DAY_MS % interval_ms(base) == 0
    return interval_ms(target) % interval_ms(base) == 0


@dataclass(frozen=True)
class Interval:
    """A Bybit interval label with its bar length and bucket alignment.

    `Interval.parse("1h")` normalises aliases; the label is what Bybit and the
    store use. The month has no fixed length: `ms` is its 31-day upper bound and
    `per_year` is exactly 12.
    """

    label: str

    def __post_init__(self) -> None:
        if normalize_interval(self.label, native_only=False) != self.label:
            raise UnknownIntervalError(self.label, INTERVALS)

    @classmethod
    def parse(cls, value: str | int | Interval, *, native_only: bool = True) -> Interval:
        """The interval of a label or alias (`15`, `15m`, `1h`, `D`, `1w`, `M`)."""
        if isinstance(value, Interval):
            return value
        return cls(normalize_interval(value, native_only=native_only))

    def __str__(self) -> str:
        return self.label

    @property
    def display(self) -> str:
        """The label with its unit, as traders write it: "15m", "1h", "4h", "1D", "1W", "1M"."""
        if self.label in ("D", "W", "M"):
            return "1" + self.label
        minutes = int(self.label)
        return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"

    @property
    def ms(self) -> int:
        """Bar length in ms (31 days for the month: an upper bound)."""
        return interval_ms(self.label)

    @property
    def is_calendar(self) -> bool:
        """True for the month, whose length varies."""
        return self.label == "M"

    @property
    def per_year(self) -> float:
        """Bars in a 365-day year (crypto trades around the clock)."""
        if self.label == "M":
            return 12.0
        return MINUTES_PER_YEAR / (self.ms / MINUTE_MS)

    @property
    def minutes(self) -> float:
        """Average bar length in minutes (a 365/12-day month)."""
        return MINUTES_PER_YEAR / self.per_year

    def floor(self, ms: int) -> int:
        """Open time of the bar containing `ms` (arrays: `floor_times(times, label)`)."""
        return floor_time(ms, self.label)

    def next_open(self, open_ms: int) -> int:
        """Open time of the bar after the one opening at `open_ms`."""
        return next_open(open_ms, self.label)

    def require_resample_to(self, target: Interval) -> None:
        """Raise ResampleError unless `target` bars are whole numbers of these bars."""
        if not can_resample(self.label, target.label):
            raise ResampleError(
                f"cannot build {target.label} bars from {self.label} bars: each {target.label} "
                f"bar must hold a whole number of {self.label} bars (W and M build nothing "
                "but themselves); resample from a shorter interval"
            )
