"""Small constructed data sets for the optimisation tests."""

from __future__ import annotations

import numpy as np

import engine
from ohlcv import Candles


def candles_from_close(close: np.ndarray, interval: str = "15") -> Candles:
    """Candles whose open is the previous close and whose high/low hug the bar."""
    close = np.asarray(close, dtype=float)
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) * 1.0001
    low = np.minimum(open_, close) * 0.9999
    t = 1_700_000_000_000 + np.arange(close.size, dtype=np.int64) * 15 * 60_000
    return engine.make_candles(t, open_, high, low, close, np.ones(close.size), interval=interval)


def triangle_wave(n: int, half_period: int, amplitude: float = 0.2) -> Candles:
    """Prices that rise linearly for ``half_period`` bars, then fall as long: a
    trend follower with the shortest look-back reverses first and wins most."""
    phase = np.arange(n) % (2 * half_period)
    tri = np.where(phase < half_period, phase, 2 * half_period - phase) / half_period
    return candles_from_close(100.0 * (1.0 + amplitude * tri))


def random_walk(n: int, seed: int, vol: float = 0.002) -> Candles:
    rng = np.random.default_rng(seed)
    return candles_from_close(100.0 * np.exp(np.cumsum(rng.normal(0, vol, n))))
