"""One-pass candle validation: the first broken rule and its row, or (0, -1)."""

from __future__ import annotations

import numpy as np
from numba import njit

OK = 0
BAD_TIME_DUP = 1
BAD_TIME_ORDER = 2
BAD_NONFINITE = 3
BAD_NEGATIVE = 4
BAD_HIGH_LOW = 5
BAD_HIGH = 6
BAD_LOW = 7


@njit(cache=True, nogil=True, error_model="numpy")
def validate_nb(time, open_, high, low, close, volume):  # type: ignore[no-untyped-def]
    """Returns (code, row, column) of the first violation; column 0-4 = o,h,l,c,v.

    The fast path folds every rule into one branch-free test per bar (NaN fails
    every comparison; low >= 0 and high < inf bound all four prices); only a
    failing bar is examined rule by rule."""
    n = close.shape[0]
    inf = np.inf
    for i in range(n):
        o = open_[i]
        h = high[i]
        lo = low[i]
        c = close[i]
        v = volume[i]
        ok = (
            (lo >= 0.0) & (h < inf) & (h >= o) & (h >= c) & (lo <= o) & (lo <= c)
            & (v >= 0.0) & (v < inf) & (o == o) & (c == c)
        )
        if i > 0:
            ok = ok & (time[i] > time[i - 1])
        if not ok:
            return _diagnose(time, open_, high, low, close, volume, i)
    return OK, -1, -1


@njit(cache=True, nogil=True, error_model="numpy")
def _diagnose(time, open_, high, low, close, volume, i):  # type: ignore[no-untyped-def]
    if i > 0:
        if time[i] == time[i - 1]:
            return BAD_TIME_DUP, i, -1
        if time[i] < time[i - 1]:
            return BAD_TIME_ORDER, i, -1
    vals = (open_[i], high[i], low[i], close[i], volume[i])
    for k in range(5):
        if not np.isfinite(vals[k]):
            return BAD_NONFINITE, i, k
    for k in range(5):
        if vals[k] < 0.0:
            return BAD_NEGATIVE, i, k
    o, h, lo, c = vals[0], vals[1], vals[2], vals[3]
    if h < lo:
        return BAD_HIGH_LOW, i, -1
    if h < max(o, c):
        return BAD_HIGH, i, -1
    return BAD_LOW, i, -1


@njit(cache=True, nogil=True, error_model="numpy")
def count_gaps_nb(time, step):  # type: ignore[no-untyped-def]
    """Number of time steps longer than ``step`` (missing bars)."""
    gaps = 0
    for i in range(1, time.shape[0]):
        if time[i] - time[i - 1] > step:
            gaps += 1
    return gaps
