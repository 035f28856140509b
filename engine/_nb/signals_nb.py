"""Strategy signals: the per-bar entry/exit bitmask and the order it resolves to.

The backtest kernel reads a bar's signal from one of three sources (see
``simulate_nb``): the bitmask that :func:`signals_nb` writes for any rule in
one tight pass, or a cross that :func:`_bar_signal` reads bar by bar inside the
kernel, from two lines or from two EMAs it computes as it goes. For
``RULE_CROSS`` all three give the same bits.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from engine._nb.enums import (
    ACT_CLOSE,
    ACT_LONG,
    ACT_NONE,
    ACT_SHORT,
    DIR_LONG,
    DIR_SHORT,
    RULE_BANDS,
    RULE_CROSS,
    RULE_HOLD,
    RULE_LEVELS,
    RULE_SIGNALS,
)

SIG_LE = 1
SIG_LX = 2
SIG_SE = 4
SIG_SX = 8
SIG_ORDERS = SIG_LE | SIG_LX | SIG_SE | SIG_SX


@njit(cache=True, nogil=True, error_model="numpy")
def signals_nb(a, b, c, d, e, rule, rp, start, out):  # type: ignore[no-untyped-def]
    """Write each bar's entry/exit flags into ``out`` as a bitmask (SIG_*).

    ``a``..``e`` are the strategy's lines, read per ``rule``. Bars before
    ``start`` (the warm-up) get no signal. One loop per rule: a rule switch
    inside the bar loop would cost more than the simulation itself."""
    n = out.shape[0]
    out[: min(start, n)] = 0
    if rule == RULE_HOLD:
        out[start:] = 0
        if start < n:
            out[start] = SIG_LE
        return
    if rule == RULE_SIGNALS:
        for i in range(start, n):
            out[i] = (
                SIG_LE * (a[i] != 0.0)
                + SIG_LX * (b[i] != 0.0)
                + SIG_SE * (c[i] != 0.0)
                + SIG_SX * (d[i] != 0.0)
            )
        return
    # The other rules compare bar i with bar i-1. They read through views shifted
    # by one and indexed from 0, because numba cannot prove ``i - 1 >= 0`` and
    # would wrap-check every access, which also stops vectorisation (10x slower).
    s = min(max(start, 1), n)
    o = out[s:]
    m = o.shape[0]
    a0 = a[s - 1 : n - 1]
    a1 = a[s:]
    if rule == RULE_CROSS:
        b0 = b[s - 1 : n - 1]
        b1 = b[s:]
        for j in range(m):
            up = (a0[j] < b0[j]) & (a1[j] > b1[j])
            dn = (b0[j] < a0[j]) & (b1[j] > a1[j])
            o[j] = (SIG_LE | SIG_SX) * up + (SIG_SE | SIG_LX) * dn
    elif rule == RULE_LEVELS:
        lower = rp[0]
        upper = rp[1]
        for j in range(m):
            p0 = a0[j]
            p1 = a1[j]
            o[j] = (
                SIG_LE * ((p0 < lower) & (p1 > lower))
                + SIG_SE * ((p0 > upper) & (p1 < upper))
                + SIG_LX * ((p0 < upper) & (p1 > upper))
                + SIG_SX * ((p0 > lower) & (p1 < lower))
            )
    elif rule == RULE_BANDS:
        k = rp[0]
        b0 = b[s - 1 : n - 1]
        b1 = b[s:]
        c0 = c[s - 1 : n - 1]
        c1 = c[s:]
        for j in range(m):
            p0 = a0[j]
            p1 = a1[j]
            m0 = b0[j]
            m1 = b1[j]
            o[j] = (
                SIG_LE * ((p0 > m0 - k * c0[j]) & (p1 < m1 - k * c1[j]))
                + SIG_SE * ((p0 < m0 + k * c0[j]) & (p1 > m1 + k * c1[j]))
                + SIG_LX * ((p0 < m0) & (p1 > m1))
                + SIG_SX * ((m0 < p0) & (m1 > p1))
            )
    else:  # RULE_BREAKOUT: price against the previous bar's channels
        b0 = b[s - 1 : n - 1]
        c0 = c[s - 1 : n - 1]
        d0 = d[s - 1 : n - 1]
        e0 = e[s - 1 : n - 1]
        for j in range(m):
            p = a1[j]
            o[j] = (
                SIG_LE * (p > b0[j])
                + SIG_SE * (p < c0[j])
                + SIG_SX * (p > d0[j])
                + SIG_LX * (p < e0[j])
            )


@njit(cache=True, nogil=True, error_model="numpy")
def signal_start(rule, warmup):  # type: ignore[no-untyped-def]
    """First bar that may signal: rules that compare with the previous bar never signal on bar 0."""
    return warmup if rule in (RULE_HOLD, RULE_SIGNALS) else max(warmup, 1)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def resolve_action(side, sig, direction):  # type: ignore[no-untyped-def]
    """Turn a signal bitmask into one order given the current position (no pyramiding)."""
    le = (sig & SIG_LE) != 0
    lx = (sig & SIG_LX) != 0
    se = (sig & SIG_SE) != 0
    sx = (sig & SIG_SX) != 0
    allow_long = direction != DIR_SHORT
    allow_short = direction != DIR_LONG
    if side > 0:
        if se and allow_short:
            return ACT_SHORT
        if lx or se:
            return ACT_CLOSE
    elif side < 0:
        if le and allow_long:
            return ACT_LONG
        if sx or le:
            return ACT_CLOSE
    else:
        if le and allow_long:
            return ACT_LONG
        if se and allow_short:
            return ACT_SHORT
    return ACT_NONE


class EmaWeights(NamedTuple):
    """The in-kernel EMA pair's weights: ema = new * close + old * ema (as ``ema_nb``)."""

    new_a: float  # alpha = 2 / (n_a + 1)
    old_a: float  # 1 - alpha
    new_b: float
    old_b: float


class CrossState(NamedTuple):
    """What a cross read bar by bar carries from one bar to the next."""

    ema_a: float  # the in-kernel EMAs after the bar (unused when the lines are read)
    ema_b: float
    a_below: bool  # line a strictly below line b on the bar
    a_above: bool  # line a strictly above line b on the bar


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _cross_bits(gt, lt, prev_lt, prev_gt, live):  # type: ignore[no-untyped-def]
    """The RULE_CROSS bitmask of one bar from this bar's and the previous bar's order of the lines."""
    return ((SIG_LE | SIG_SX) * (prev_lt & gt) + (SIG_SE | SIG_LX) * (prev_gt & lt)) * live


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _bar_signal(ema_on, lines_on, i, u, c, xa, xb, sig, w, xstart, prev):  # type: ignore[no-untyped-def]
    """Bar ``i``'s signal bitmask and the :class:`CrossState` after it, from ``prev``.

    The source is the in-kernel EMA pair (weights ``w``), the two lines
    ``xa``/``xb`` or the bitmask ``sig`` (see :func:`simulate_nb`); crosses count
    from bar ``xstart`` on; ``u`` is ``i`` as the array index."""
    if not (ema_on or lines_on):
        return np.int64(sig[u]), prev
    ema_a = prev.ema_a
    ema_b = prev.ema_b
    if ema_on:
        if i > 0:  # bar 0 is the seed, as in ema_nb
            ema_a = w.new_a * c + w.old_a * ema_a
            ema_b = w.new_b * c + w.old_b * ema_b
        a_i = ema_a
        b_i = ema_b
    else:
        a_i = xa[u]
        b_i = xb[u]
    gt = a_i > b_i
    lt = b_i > a_i
    bits = _cross_bits(gt, lt, prev.a_below, prev.a_above, i >= xstart)
    return bits, CrossState(ema_a=ema_a, ema_b=ema_b, a_below=lt, a_above=gt)


@njit(cache=True, nogil=True, error_model="numpy")
def _count_crosses(a, b, start):  # type: ignore[no-untyped-def]
    """How many bars from ``start`` on see ``a`` cross ``b`` either way (RULE_CROSS entries)."""
    s = min(max(start, 1), a.shape[0])
    a0 = a[s - 1 : a.shape[0] - 1]
    a1 = a[s:]
    b0 = b[s - 1 : a.shape[0] - 1]
    b1 = b[s:]
    count = 0
    for j in range(a1.shape[0]):  # shifted views: see signals_nb
        count += ((a0[j] < b0[j]) & (a1[j] > b1[j])) | ((b0[j] < a0[j]) & (b1[j] > a1[j]))
    return count

