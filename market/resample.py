"""Multi-timeframe resampling with the seeds' alignment rules.

Buckets: N-minute buckets start at multiples of N minutes since the epoch; D at
00:00 UTC; W at the ISO Monday 00:00 UTC; M on the first of the calendar month.
Input rows are de-duplicated first (the latest row for an open time wins) and
output is ascending. A bucket is emitted if it holds at least one base candle;
empty buckets are left out, never forward-filled.
"""

from __future__ import annotations

import numpy as np

from market.candles import Candles
from market.intervals import floor_times, interval_ms, normalize_interval

__all__ = ["can_resample", "resample"]


def can_resample(base: str, target: str) -> bool:
    """Whether every `target` bucket is a whole number of `base` candles."""
    base = normalize_interval(base, native_only=False)
    target = normalize_interval(target, native_only=False)
    if base == target:
        return True
    if target == "M":
        return base not in ("W", "M") and interval_ms("D") % interval_ms(base) == 0
    if base == "M":
        return False
    if base == "W":
        return False
    if target == "W":
        return interval_ms("D") % interval_ms(base) == 0
    return interval_ms(target) % interval_ms(base) == 0


def resample(candles: Candles, base: str, target: str) -> Candles:
    """Aggregate `base` candles into `target` buckets (open first, high max, low min,
    close last, volume and turnover summed).

    Raises `ValueError` when the target is not a whole multiple of the base
    (e.g. 1h from 7m, or W from M).
    """
    base = normalize_interval(base, native_only=False)
    target = normalize_interval(target, native_only=False)
    if not can_resample(base, target):
        raise ValueError(f"cannot build {target} candles from {base} candles")
    c = candles.sorted_unique()
    if base == target or len(c) == 0:
        return c
    buckets = floor_times(c.time, target)
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(c)] - 1
    return Candles(
        buckets[starts],
        c.open[starts],
        np.maximum.reduceat(c.high, starts),
        np.minimum.reduceat(c.low, starts),
        c.close[ends],
        np.add.reduceat(c.volume, starts),
        np.add.reduceat(c.turnover, starts),
    )
