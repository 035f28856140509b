"""Aggregating candles into a longer interval, with Bybit's bucket alignment.

Open is the first bar's, high the max, low the min, close the last bar's;
volume and turnover sum. Input rows are de-duplicated first (the latest row for
an open time wins) and a bucket is emitted when it holds at least one bar:
empty buckets are left out, never forward-filled. Labels carry over, so
synthetic input gives synthetic output.
"""

from __future__ import annotations

import numpy as np

from ohlcv.candles import Candles
from ohlcv.errors import ResampleError
from ohlcv.intervals import Interval, floor_times, next_opens

__all__ = ["partial_edges", "resample"]


def _base_of(candles: Candles, base: str | None) -> Interval:
    label = base or candles.interval
    if not label:
        raise ResampleError(
            "the candles carry no interval label; pass base= (the interval they are in)"
        )
    return Interval.parse(label, native_only=False)


def resample(
    candles: Candles, target: str, *, base: str | None = None, drop_partial: bool = False
) -> Candles:
    """`candles` (in `base`, default their own interval) aggregated into `target` bars.

    `drop_partial` removes a last bucket the input does not fill to its end, so a
    still-forming bar is never shown as final. Raises ResampleError when `target`
    is not a whole number of `base` bars (e.g. 60 from 7, or W from M).
    """
    src = _base_of(candles, base)
    dst = Interval.parse(target, native_only=False)
    src.require_resample_to(dst)
    c = candles.sorted_unique()
    if src == dst or len(c) == 0:
        return c.relabel(interval=dst.label) if c.interval != dst.label else c
    buckets = floor_times(c.time, dst.label)
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(c)] - 1
    rows = [
        buckets[starts],
        c.open[starts],
        np.maximum.reduceat(c.high, starts),
        np.minimum.reduceat(c.low, starts),
        c.close[ends],
        np.add.reduceat(c.volume, starts),
        np.add.reduceat(c.turnover, starts),
    ]
    out = c.relabel(interval=dst.label).with_rows(rows, validated=c.validated)
    if drop_partial and partial_edges(c, dst.label, base=src.label)[1]:
        out = out.slice(0, len(out) - 1)
    return out


def partial_edges(candles: Candles, target: str, *, base: str | None = None) -> tuple[bool, bool]:
    """Whether the first and the last `target` bucket of `candles` are incomplete:
    the data starts after the first bucket opens, or ends before the last one closes."""
    if len(candles) == 0:
        return False, False
    src = _base_of(candles, base)
    dst = Interval.parse(target, native_only=False)
    first_open = int(floor_times(candles.time[:1], dst.label)[0])
    last_open = int(floor_times(candles.time[-1:], dst.label)[0])
    last_close = int(next_opens(np.array([last_open]), dst.label)[0])
    data_end = int(next_opens(candles.time[-1:], src.label)[0])
    return int(candles.time[0]) > first_open, data_end < last_close
