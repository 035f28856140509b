"""Technical indicators: validated wrappers over the numba kernels.

Definitions (pinned by tests): EMA alpha=2/(n+1) seeded with the first value;
SMA NaN before n values; RSI and ATR use Wilder's smoothing seeded with a simple
mean; ADX smooths +DM, -DM and TR that way, then DX again (TA-Lib, NaN before
bar 2n-1); Bollinger uses the population standard deviation; Donchian is the
rolling max of highs and min of lows including the current bar.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from engine._nb import indicators_nb as K
from engine.errors import InvalidParameterError

F64 = npt.NDArray[np.float64]


def _arr(x: npt.ArrayLike) -> F64:
    return np.ascontiguousarray(x, dtype=np.float64)


def _window(n: int, name: str = "window") -> int:
    if int(n) != n or n < 1:
        raise InvalidParameterError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def ema(x: npt.ArrayLike, n: int) -> F64:
    """Exponential moving average (pandas ``ewm(span=n, adjust=False)``)."""
    return K.ema_nb(_arr(x), _window(n))


def sma(x: npt.ArrayLike, n: int) -> F64:
    """Simple moving average of the last n values."""
    return K.sma_nb(_arr(x), _window(n))


def rsi(close: npt.ArrayLike, n: int = 14) -> F64:
    """Wilder's relative strength index (0-100)."""
    return K.rsi_nb(_arr(close), _window(n))


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, n: int = 14) -> F64:
    """Wilder's average true range."""
    return K.atr_nb(_arr(high), _arr(low), _arr(close), _window(n))


def adx(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, n: int = 14) -> F64:
    """Wilder's average directional index (0-100): trend strength, whatever its direction.

    +DM, -DM and the true range are Wilder-smoothed from bar 1 (seeded with the mean
    of their first n values, at bar n); DX = 100 |+DI - -DI| / (+DI + -DI), 0 where
    both are 0; ADX is DX Wilder-smoothed from bar n, first defined at bar 2n - 1."""
    w = _window(n)
    h, lo, c = _arr(high), _arr(low), _arr(close)
    out = np.full(c.shape[0], np.nan)
    if c.shape[0] < 2 * w:
        return out
    up, down = np.diff(h), -np.diff(lo)
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    tr = np.maximum.reduce([h[1:] - lo[1:], np.abs(h[1:] - c[:-1]), np.abs(lo[1:] - c[:-1])])
    atr, plus, minus = (_wilder(x, w) for x in (tr, plus_dm, minus_dm))  # bars n..end
    with np.errstate(invalid="ignore", divide="ignore"):
        plus_di = np.where(atr > 0, plus / atr, 0.0)
        minus_di = np.where(atr > 0, minus / atr, 0.0)
        total = plus_di + minus_di
        dx = np.where(total > 0, 100.0 * np.abs(plus_di - minus_di) / total, 0.0)
    out[2 * w - 1 :] = _wilder(dx, w)
    return out


def _wilder(x: F64, n: int) -> F64:
    """Wilder's smoothing s = s + (x - s) / n, seeded with the mean of the first n values;
    one value per input from the n-th on (len(x) - n + 1 values)."""
    seeded = np.concatenate(([x[:n].mean()], x[n:]))
    return K.ema_nb(seeded, 2 * n - 1)  # an EMA of span 2n - 1 has alpha 1/n


def roc(x: npt.ArrayLike, n: int) -> F64:
    """Rate of change over n bars as a fraction."""
    return K.roc_nb(_arr(x), _window(n))


class MACD(NamedTuple):
    macd: F64
    signal: F64
    hist: F64


def macd(close: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9) -> MACD:
    """MACD line (EMA fast - EMA slow), its EMA signal line and the histogram."""
    c = _arr(close)
    line = K.ema_nb(c, _window(fast, "fast")) - K.ema_nb(c, _window(slow, "slow"))
    sig = K.ema_nb(line, _window(signal, "signal"))
    return MACD(line, sig, line - sig)


class Bands(NamedTuple):
    lower: F64
    middle: F64
    upper: F64


def bollinger(close: npt.ArrayLike, n: int = 20, k: float = 2.0) -> Bands:
    """Bollinger bands: SMA(n) +/- k population standard deviations."""
    c = _arr(close)
    mid = K.sma_nb(c, _window(n))
    sd = K.rolling_std_nb(c, n)
    return Bands(mid - k * sd, mid, mid + k * sd)


def rolling_std(x: npt.ArrayLike, n: int) -> F64:
    """Population standard deviation of the last n values."""
    return K.rolling_std_nb(_arr(x), _window(n))


def donchian(high: npt.ArrayLike, low: npt.ArrayLike, n: int = 20) -> Bands:
    """Donchian channel: lowest low, midpoint and highest high of the last n bars."""
    w = _window(n)
    up = K.rolling_max_nb(_arr(high), w)
    dn = K.rolling_min_nb(_arr(low), w)
    return Bands(dn, (up + dn) / 2.0, up)
