"""Candle sources for the fake Bybit server, and the series cache it serves from."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np
import numpy.typing as npt

from market.candles import Candles
from market.intervals import MINUTE_MS, floor_time, interval_ms
from market.resample import resample

__all__ = ["CandleSource", "SeriesBook", "random_walk_candles"]


class CandleSource(Protocol):
    """Deterministic candle generator; `engine.sample.generate_candles` has this shape.

    Returns a mapping with keys time (int64 ms open times), open, high, low,
    close, volume (float64), `n_bars` rows spaced `interval_minutes` apart from
    `start_ms`.
    """

    def __call__(
        self,
        n_bars: int,
        *,
        interval_minutes: int = 1,
        start_ms: int,
        seed: int = 42,
        symbol: str = "BTCUSDT",
    ) -> Mapping[str, npt.NDArray[np.generic]]: ...


def random_walk_candles(
    n_bars: int,
    *,
    interval_minutes: int = 1,
    start_ms: int,
    seed: int = 42,
    symbol: str = "BTCUSDT",
) -> dict[str, npt.NDArray[np.generic]]:
    """A geometric random walk; the default source when no other is wired in."""
    rng = np.random.default_rng([seed, zlib.crc32(symbol.encode())])
    sigma = 0.0008 * np.sqrt(interval_minutes)
    steps = rng.standard_normal(n_bars) * sigma
    close = 20_000.0 * np.exp(np.cumsum(steps))
    open_ = np.empty(n_bars)
    open_[0] = 20_000.0
    open_[1:] = close[:-1]
    wick = np.abs(rng.standard_normal((2, n_bars))) * sigma * 0.5
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.gamma(2.0, 5.0 * interval_minutes, n_bars)
    return {
        "time": start_ms + np.arange(n_bars, dtype=np.int64) * interval_minutes * MINUTE_MS,
        "open": np.round(open_, 2),
        "high": np.round(high, 2),
        "low": np.round(low, 2),
        "close": np.round(close, 2),
        "volume": np.round(volume, 3),
    }


class SeriesBook:
    """Lazily generated, cached candle series per (category, symbol, interval).

    A series runs from the instrument's first candle to `horizon_ms`; the server
    shows only the rows already open at its current clock.
    """

    def __init__(self, source: CandleSource, *, seed: int, horizon: Callable[[], int]):
        self._source = source
        self._seed = seed
        self._horizon = horizon
        self._series: dict[tuple[str, str, str], Candles] = {}
        self._lock = threading.Lock()

    def get(self, category: str, symbol: str, interval: str, first_ms: int) -> Candles:
        """The series (generated on first use, extended when the clock passes its end)."""
        key = (category, symbol, interval)
        with self._lock:
            series = self._series.get(key)
            horizon = self._horizon()
            if series is None or (len(series) and series.time[-1] < floor_time(horizon, interval)):
                series = self._generate(category, symbol, interval, first_ms, horizon)
                self._series[key] = series
            return series

    def _generate(
        self, category: str, symbol: str, interval: str, first_ms: int, horizon: int
    ) -> Candles:
        if interval == "M":
            daily = self._generate(category, symbol, "D", first_ms, horizon)
            return resample(daily, "D", "M")
        start = floor_time(first_ms, interval)
        if horizon < start:
            return Candles.empty()
        n = (floor_time(horizon, interval) - start) // interval_ms(interval) + 1
        seed = self._seed + zlib.crc32(category.encode()) % 1000
        data = self._source(
            int(n),
            interval_minutes=interval_ms(interval) // MINUTE_MS,
            start_ms=start,
            seed=seed,
            symbol=symbol,
        )
        return Candles.from_arrays(data)
