"""A bare, single-purpose numba loop of EMA cross with SL, TP and a trailing stop: the speed yardstick.

No validation, no metrics beyond the equity curve, no options: what a hand-written
loop for exactly this strategy costs."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def bare_ema_cross(open_, high, low, close, fast, slow, sl, tp, fee, trail=0.004):  # type: ignore[no-untyped-def]
    n = close.shape[0]
    af = 2.0 / (fast + 1.0)
    a_s = 2.0 / (slow + 1.0)
    ef = close[0]
    es = close[0]
    pos = 0
    entry = 0.0
    peak = 0.0
    cash = 10_000.0
    qty = 0.0
    pending = 0
    n_trades = 0
    eq = np.empty(n)
    for i in range(n):
        o = open_[i]
        if pending != 0:
            if pos != 0:
                cash += pos * qty * (o - entry) - qty * o * fee
                n_trades += 1
                pos = 0
            qty = cash / (o * (1 + fee))
            cash -= qty * o * fee
            entry = o
            peak = o
            pos = pending
            pending = 0
        if pos != 0:
            stop = entry * (1 - pos * sl)
            ts = peak * (1 - pos * trail)
            if pos * (ts - stop) > 0:
                stop = ts
            take = entry * (1 + pos * tp)
            if (pos > 0 and low[i] <= stop) or (pos < 0 and high[i] >= stop):
                px = min(o, stop) if pos > 0 else max(o, stop)
                cash += pos * qty * (px - entry) - qty * px * fee
                n_trades += 1
                pos = 0
            elif (pos > 0 and high[i] >= take) or (pos < 0 and low[i] <= take):
                cash += pos * qty * (take - entry) - qty * take * fee
                n_trades += 1
                pos = 0
        if pos > 0 and high[i] > peak:
            peak = high[i]
        elif pos < 0 and low[i] < peak:
            peak = low[i]
        pf, ps_ = ef, es
        ef = af * close[i] + (1 - af) * ef
        es = a_s * close[i] + (1 - a_s) * es
        if i >= slow:
            if pf < ps_ and ef > es and pos <= 0:
                pending = 1
            elif pf > ps_ and ef < es and pos >= 0:
                pending = -1
        eq[i] = cash + (pos * qty * (close[i] - entry) if pos != 0 else 0.0)
    return eq, n_trades
