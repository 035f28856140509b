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
    """Returns (code, row, column) of the first violation; column 0-4 = o,h,l,c,v."""
    n = close.shape[0]
    for i in range(n):
        if i > 0:
            if time[i] == time[i - 1]:
                return BAD_TIME_DUP, i, -1
            if time[i] < time[i - 1]:
                return BAD_TIME_ORDER, i, -1
        o = open_[i]
        h = high[i]
        lo = low[i]
        c = close[i]
        v = volume[i]
        vals = (o, h, lo, c, v)
        for k in range(5):
            x = vals[k]
            if not np.isfinite(x):
                return BAD_NONFINITE, i, k
            if x < 0.0:
                return BAD_NEGATIVE, i, k
        if h < lo:
            return BAD_HIGH_LOW, i, -1
        if h < max(o, c):
            return BAD_HIGH, i, -1
        if lo > min(o, c):
            return BAD_LOW, i, -1
    return OK, -1, -1


@njit(cache=True, nogil=True, error_model="numpy")
def count_gaps_nb(time, step):  # type: ignore[no-untyped-def]
    """Number of time steps longer than ``step`` (missing bars)."""
    gaps = 0
    for i in range(1, time.shape[0]):
        if time[i] - time[i - 1] > step:
            gaps += 1
    return gaps
