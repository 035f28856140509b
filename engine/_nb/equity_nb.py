"""The equity curve's streamed statistics: per bar and per UTC day.

The backtest kernel marks equity to every close and keeps only running sums
(O(1) memory), from which ``engine.metrics`` computes every per-bar and daily
metric, so a grid combination reports what a single backtest does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def day_ends_nb(time):  # type: ignore[no-untyped-def]
    """Indices of the last bar of every UTC day (the last bar always counts), ascending.

    One comparison per bar: the next day boundary is recomputed only when crossed."""
    n = time.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    day_ms = 86_400_000
    out = np.empty(n, dtype=np.int64)
    k = 0
    boundary = (time[0] // day_ms + 1) * day_ms
    for i in range(n - 1):
        if time[i + 1] >= boundary:
            out[k] = i
            k += 1
            boundary = (time[i + 1] // day_ms + 1) * day_ms
    out[k] = n - 1
    return out[: k + 1].copy()


class BarStats(NamedTuple):
    """Running statistics of the per-bar closing equity (see :func:`_mark_bar`)."""

    last_eq: float  # the previous bar's equity (the final equity at the end)
    inv_last_eq: float  # 1 / last_eq, 0.0 when last_eq <= 0
    peak_eq: float
    inv_peak_eq: float
    peak_idx: int  # the bar of the running peak: where the current drawdown started
    max_dd: float  # as a fraction of the peak
    max_dd_bars: int
    ret_sum: float  # per-bar returns
    ret_sq: float
    down_sq: float  # squared negative returns (Sortino)
    dd_sq: float  # squared drawdowns (ulcer index)


class DayStats(NamedTuple):
    """Running statistics of the daily returns, taken at each UTC day's last bar."""

    start_eq: float  # equity at the close of the previous day
    n_days: int
    ret_sum: float
    ret_sq: float


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _first_bar_stats(init):  # type: ignore[no-untyped-def]
    """Bar statistics before the first bar: equity at the initial capital."""
    return BarStats(init, 1.0 / init, init, 1.0 / init, 0, 0.0, 0, 0.0, 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _mark_bar(i, eq, s):  # type: ignore[no-untyped-def]
    """Stream bar ``i``'s closing equity into the per-bar statistics ``s``.

    Divisions dominate this cost, so each bar does at most one: 1/eq is reused
    as the next bar's 1/prev, and 1/peak changes only on new highs."""
    prev_eq, inv_prev, peak_eq, inv_peak, dd_start, max_dd, max_dd_dur, ret_sum, ret_sq, down_sq, dd_sq = s
    if eq != prev_eq:
        r = eq * inv_prev - 1.0 if prev_eq > 0.0 else 0.0
        inv_prev = 1.0 / eq if eq > 0.0 else 0.0
        ret_sum += r
        ret_sq += r * r
        neg = min(r, 0.0)  # branch-free: the sign of r is a coin flip per bar
        down_sq += neg * neg
    if eq >= peak_eq:
        peak_eq = eq
        inv_peak = 1.0 / eq if eq > 0.0 else 0.0
        dd_start = i
    else:
        dd = 1.0 - eq * inv_peak if peak_eq > 0.0 else 1.0
        dd_sq += dd * dd
        if dd > max_dd:
            max_dd = dd
        if i - dd_start > max_dd_dur:
            max_dd_dur = i - dd_start
    return BarStats(eq, inv_prev, peak_eq, inv_peak, dd_start, max_dd, max_dd_dur, ret_sum, ret_sq, down_sq, dd_sq)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _mark_day(eq, d):  # type: ignore[no-untyped-def]
    """Stream the return of the UTC day that closes at equity ``eq`` into ``d``."""
    dr = eq / d.start_eq - 1.0 if d.start_eq > 0.0 else 0.0
    return DayStats(start_eq=eq, n_days=d.n_days + 1, ret_sum=d.ret_sum + dr, ret_sq=d.ret_sq + dr * dr)
