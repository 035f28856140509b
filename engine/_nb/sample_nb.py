"""Kernel of the synthetic market generator (see engine.sample)."""

from __future__ import annotations

import numpy as np
from numba import njit

# Regimes: 0 quiet range, 1 up-trend, 2 down-trend, 3 turbulent (high volatility).
_DRIFT = (0.0, 6.0e-6, -6.0e-6, 0.0)
_VOL_MULT = (0.7, 1.0, 1.15, 2.2)
_MEAN_DURATION_MIN = (2880.0, 4320.0, 3600.0, 720.0)


@njit(cache=True)
def generate_minutes_nb(n, start_price, base_vol, start_minute_of_day, seed, tick):  # type: ignore[no-untyped-def]
    """OHLCV for ``n`` one-minute bars: GARCH(1,1) volatility with Student-t(4)
    shocks, Markov regime switching, intraday volume seasonality and rare gaps."""
    np.random.seed(seed)
    o = np.empty(n)
    h = np.empty(n)
    lo = np.empty(n)
    c = np.empty(n)
    v = np.empty(n)
    drift = np.array(_DRIFT)
    volm = np.array(_VOL_MULT)
    dur = np.array(_MEAN_DURATION_MIN)
    omega_frac = 0.04
    alpha = 0.06
    beta = 0.90
    var = base_vol * base_vol
    anchor = np.log(start_price)
    logp = anchor
    regime = 0
    t_scale = np.sqrt(2.0)  # Student-t(4) has variance 2
    prev_r = 0.0
    for i in range(n):
        if np.random.random() < 1.0 / dur[regime]:
            u = np.random.random()
            if u < 0.35:
                regime = 0
            elif u < 0.62:
                regime = 1
            elif u < 0.87:
                regime = 2
            else:
                regime = 3
            if regime == 0:
                anchor = logp
        target = base_vol * volm[regime]
        var = omega_frac * target * target + alpha * prev_r * prev_r + beta * var
        sigma = np.sqrt(var)
        shock = np.random.standard_t(4.0) / t_scale
        r = drift[regime] + sigma * shock
        if regime == 0:
            r += 0.002 * (anchor - logp)  # ranges mean-revert around where they began
        gap = 0.0
        if np.random.random() < 0.0005:
            gap = sigma * 3.0 * np.random.standard_normal()
        prev_r = r + gap
        open_lp = logp + gap
        close_lp = open_lp + r
        po = np.exp(open_lp)
        pc = np.exp(close_lp)
        wick_up = abs(np.random.standard_normal()) * sigma * 0.6
        wick_dn = abs(np.random.standard_normal()) * sigma * 0.6
        po = np.round(po / tick) * tick
        pc = np.round(pc / tick) * tick
        ph = np.round(max(po, pc) * np.exp(wick_up) / tick) * tick
        pl = np.round(min(po, pc) * np.exp(-wick_dn) / tick) * tick
        o[i] = po
        c[i] = pc
        h[i] = max(ph, po, pc)
        lo[i] = min(pl, po, pc)
        minute = (start_minute_of_day + i) % 1440
        season = 1.0 + 0.5 * np.sin(2.0 * np.pi * (minute - 780.0) / 1440.0)  # busiest at US hours
        activity = 1.0 + 4.0 * abs(r) / (sigma + 1e-12)
        v[i] = round(35.0 * season * activity * np.exp(0.5 * np.random.standard_normal()), 3)
        logp = close_lp
    return o, h, lo, c, v
