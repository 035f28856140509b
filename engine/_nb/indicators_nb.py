"""Indicator kernels. Definitions pinned by the spec and the tests."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def ema_nb(x, n):  # type: ignore[no-untyped-def]
    """EMA with alpha = 2/(n+1) seeded with the first value (pandas ewm(span=n, adjust=False))."""
    out = np.empty_like(x)
    if x.shape[0] == 0:
        return out
    a = 2.0 / (n + 1.0)
    b = 1.0 - a
    acc = x[0]
    out[0] = acc
    for i in range(1, x.shape[0]):
        acc = a * x[i] + b * acc
        out[i] = acc
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def ema_pair_nb(x, n1, n2, out1, out2):  # type: ignore[no-untyped-def]
    """Two EMAs in one pass. One EMA is bound by the latency of its own
    recurrence; two independent recurrences overlap, so the pair costs about
    as much as one line."""
    size = x.shape[0]
    if size == 0:
        return
    a1 = 2.0 / (n1 + 1.0)
    a2 = 2.0 / (n2 + 1.0)
    b1 = 1.0 - a1
    b2 = 1.0 - a2
    e1 = x[0]
    e2 = x[0]
    out1[0] = e1
    out2[0] = e2
    for i in range(1, size):
        xi = x[i]
        e1 = a1 * xi + b1 * e1
        e2 = a2 * xi + b2 * e2
        out1[i] = e1
        out2[i] = e2


@njit(cache=True, nogil=True, error_model="numpy")
def sma_nb(x, n):  # type: ignore[no-untyped-def]
    """Rolling mean of the last n values; NaN before n values. Kahan-compensated running sum."""
    out = np.full(x.shape[0], np.nan)
    s = 0.0
    comp = 0.0
    for i in range(x.shape[0]):
        y = x[i] - comp
        t = s + y
        comp = (t - s) - y
        s = t
        if i >= n:
            y = -x[i - n] - comp
            t = s + y
            comp = (t - s) - y
            s = t
        if i >= n - 1:
            out[i] = s / n
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def rolling_std_nb(x, n):  # type: ignore[no-untyped-def]
    """Population standard deviation (ddof=0) of the last n values, as TA-Lib and
    TradingView use for Bollinger bands; computed per window from its mean so it
    cannot go negative or cancel on flat prices."""
    out = np.full(x.shape[0], np.nan)
    mean = sma_nb(x, n)
    for i in range(n - 1, x.shape[0]):
        m = mean[i]
        acc = 0.0
        for j in range(i - n + 1, i + 1):
            d = x[j] - m
            acc += d * d
        out[i] = np.sqrt(acc / n)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def rsi_nb(close, n):  # type: ignore[no-untyped-def]
    """Wilder's RSI: averages seeded with the simple mean of the first n changes,
    then smoothed with alpha = 1/n (TA-Lib/TradingView). NaN before bar n."""
    size = close.shape[0]
    out = np.full(size, np.nan)
    if size <= n:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, n + 1):
        d = close[i] - close[i - 1]
        if d > 0:
            gain += d
        else:
            loss -= d
    gain /= n
    loss /= n
    out[n] = _rsi_value(gain, loss)
    for i in range(n + 1, size):
        d = close[i] - close[i - 1]
        g = d if d > 0 else 0.0
        lo = -d if d < 0 else 0.0
        gain = (gain * (n - 1) + g) / n
        loss = (loss * (n - 1) + lo) / n
        out[i] = _rsi_value(gain, loss)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _rsi_value(gain, loss):  # type: ignore[no-untyped-def]
    if loss == 0.0:
        return 50.0 if gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


@njit(cache=True, nogil=True, error_model="numpy")
def atr_nb(high, low, close, n):  # type: ignore[no-untyped-def]
    """Wilder's ATR on true range, seeded with the mean of TR[1..n] (TA-Lib). NaN before bar n."""
    size = close.shape[0]
    out = np.full(size, np.nan)
    if size <= n:
        return out
    acc = 0.0
    for i in range(1, n + 1):
        acc += _true_range(high[i], low[i], close[i - 1])
    atr = acc / n
    out[n] = atr
    for i in range(n + 1, size):
        atr = (atr * (n - 1) + _true_range(high[i], low[i], close[i - 1])) / n
        out[i] = atr
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _true_range(h, lo, prev_close):  # type: ignore[no-untyped-def]
    return max(h - lo, abs(h - prev_close), abs(lo - prev_close))


@njit(cache=True, nogil=True, error_model="numpy")
def rolling_max_nb(x, n):  # type: ignore[no-untyped-def]
    """Max of the last n values (monotonic deque, O(len)); NaN before n values."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    dq = np.empty(size, dtype=np.int64)
    head = 0
    tail = 0
    for i in range(size):
        while tail > head and x[dq[tail - 1]] <= x[i]:
            tail -= 1
        dq[tail] = i
        tail += 1
        if dq[head] <= i - n:
            head += 1
        if i >= n - 1:
            out[i] = x[dq[head]]
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def rolling_min_nb(x, n):  # type: ignore[no-untyped-def]
    """Min of the last n values; NaN before n values."""
    return -rolling_max_nb(-x, n)


@njit(cache=True, nogil=True, error_model="numpy")
def roc_nb(x, n):  # type: ignore[no-untyped-def]
    """Rate of change x[i]/x[i-n] - 1; NaN before bar n."""
    out = np.full(x.shape[0], np.nan)
    for i in range(n, x.shape[0]):
        out[i] = x[i] / x[i - n] - 1.0 if x[i - n] != 0 else np.nan
    return out
