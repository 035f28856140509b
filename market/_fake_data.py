"""Candle sources for the fake Bybit server, and the series cache it serves from."""

from __future__ import annotations

import dataclasses
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from ohlcv import MINUTE_MS, Candles, resample

__all__ = [
    "PREMIUM",
    "PRICE_SKEW",
    "CandleSource",
    "PriceGrid",
    "SeriesBook",
    "random_walk_candles",
]

F64 = npt.NDArray[np.float64]

KLINE: Final = "kline"
PREMIUM: Final = "premium-index-price-kline"
# Mark and index prices sit a little off the trade price, as on the exchange.
PRICE_SKEW: Final[dict[str, float]] = {"mark-price-kline": 1.0002, "index-price-kline": 0.9998}


class CandleSource(Protocol):
    """Deterministic candle generator; `engine.sample.generate_candles` has this shape.

    Returns a mapping with keys time (int64 ms open times), open, high, low,
    close, volume (float64) and optionally turnover, `n_bars` rows spaced
    `interval_minutes` apart from `start_ms`. The fake only ever asks for
    `interval_minutes=1` and builds every other interval from those rows.
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


@dataclass(frozen=True)
class PriceGrid:
    """The decimal grid an instrument's numbers sit on, so they print as Bybit's do.

    Prices are multiples of the tick, volume of the qty step, and turnover keeps
    the digits of volume x price. Each is held as the float nearest its decimal,
    which `repr` prints back as that decimal (15337.8, not 15337.800000000001).
    """

    tick: float
    price_places: int  # digits the tick needs: 0.10 -> 1, 0.50 -> 1
    text_places: int  # digits of the tick as Bybit writes it: "0.10" -> 2
    volume_places: int

    @classmethod
    def of(cls, tick: Decimal, qty_step: Decimal) -> PriceGrid:
        """The grid of a tick size and qty step as instruments-info writes them."""
        return cls(float(tick), _places(tick.normalize()), _places(tick), _places(qty_step))

    @property
    def turnover_places(self) -> int:
        return self.price_places + self.volume_places

    def snap(self, prices: F64) -> F64:
        """The nearest multiple of the tick of each price."""
        return np.round(np.rint(prices / self.tick) * self.tick, self.price_places)


def _places(step: Decimal) -> int:
    exponent = step.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _on_grid(data: Mapping[str, npt.NDArray[np.generic]], grid: PriceGrid) -> Candles:
    """A source's minute rows with every number moved onto the instrument's grid."""
    raw = Candles.from_arrays(data)
    open_, high, low, close = (grid.snap(p) for p in (raw.open, raw.high, raw.low, raw.close))
    volume = np.round(raw.volume, grid.volume_places)
    # Without a source turnover, the served volume times the served close: exact to the digit.
    turnover = raw.turnover if "turnover" in data else volume * close
    turnover = np.round(turnover, grid.turnover_places)
    return Candles(raw.time, open_, high, low, close, volume, turnover, interval="1")


def _round_sums(c: Candles, grid: PriceGrid) -> Candles:
    # Sums of decimals pick up float error; rounding restores the decimal sum.
    return dataclasses.replace(
        c,
        volume=np.round(c.volume, grid.volume_places),
        turnover=np.round(c.turnover, grid.turnover_places),
    )


def _skewed(c: Candles, skew: float, grid: PriceGrid) -> Candles:
    """Mark or index klines: OHLC scaled and put back on the tick, no volume.

    Scaling then snapping never reorders prices, so the skewed series of an
    interval is still the skewed minute series resampled.
    """
    nan = np.full(len(c), np.nan)
    open_, high, low, close = (grid.snap(p * skew) for p in (c.open, c.high, c.low, c.close))
    return Candles(c.time, open_, high, low, close, nan, nan, interval=c.interval)


def _premium(minutes: Candles) -> Candles:
    """Premium ratios per minute: small numbers around zero, derived from time and price,
    at Bybit's 6 decimals (+0.0 turns a rounded -0.0 into 0.0)."""
    wave = np.sin(minutes.time / 3.6e6) * 5e-4
    ohlc = (wave, wave + 1e-4, wave - 1e-4, wave + (minutes.close % 7) * 1e-5)
    open_, high, low, close = (np.round(x, 6) + 0.0 for x in ohlc)
    nan = np.full(len(minutes), np.nan)
    return Candles(minutes.time, open_, high, low, close, nan, nan, interval="1")


@dataclass
class _Book:
    """One (category, symbol): its minute series, generated through `until`, and what
    has been built from it, by (interval, kind)."""

    minutes: Candles
    until: int
    views: dict[tuple[str, str], Candles] = field(default_factory=dict)


class SeriesBook:
    """One lazily generated 1-minute series per (category, symbol), and every interval
    and kline kind served from it.

    Every interval is that series resampled with Bybit's bucket alignment, so the
    fake's intervals agree with each other as the exchange's do, and the source
    is asked for minutes only. Each derived series is built once. The minute
    series runs from the instrument's first candle to `margin_ms` past the
    clock and is generated again, dropping what was built from it, once the
    clock passes its end; the server shows only the rows already open.
    """

    def __init__(
        self, source: CandleSource, *, seed: int, clock: Callable[[], int], margin_ms: int
    ):
        self._source = source
        self._seed = seed
        self._clock = clock
        self._margin_ms = margin_ms
        self._books: dict[tuple[str, str], _Book] = {}
        self._lock = threading.Lock()

    def get(
        self,
        category: str,
        symbol: str,
        interval: str,
        *,
        first_ms: int,
        grid: PriceGrid,
        kind: str = KLINE,
    ) -> Candles:
        """The series of one kline endpoint (`kind`) at `interval`."""
        with self._lock:
            book = self._book(category, symbol, first_ms, grid)
            return self._view(book, interval, kind, grid)

    def _book(self, category: str, symbol: str, first_ms: int, grid: PriceGrid) -> _Book:
        now = self._clock()
        book = self._books.get((category, symbol))
        if book is None or book.until < now // MINUTE_MS * MINUTE_MS:
            until = (now + self._margin_ms) // MINUTE_MS * MINUTE_MS
            book = _Book(self._generate(category, symbol, first_ms, until, grid), until)
            self._books[(category, symbol)] = book
        return book

    def _view(self, book: _Book, interval: str, kind: str, grid: PriceGrid) -> Candles:
        view = book.views.get((interval, kind))
        if view is not None:
            return view
        if kind == PREMIUM:
            view = (
                _premium(book.minutes)
                if interval == "1"
                else resample(self._view(book, "1", PREMIUM, grid), interval, base="1")
            )
        elif kind in PRICE_SKEW:
            view = _skewed(self._view(book, interval, KLINE, grid), PRICE_SKEW[kind], grid)
        elif interval == "1":
            view = book.minutes
        else:
            view = _round_sums(resample(book.minutes, interval, base="1"), grid)
        book.views[(interval, kind)] = view
        return view

    def _generate(
        self, category: str, symbol: str, first_ms: int, until: int, grid: PriceGrid
    ) -> Candles:
        start = first_ms // MINUTE_MS * MINUTE_MS
        if until < start:
            return Candles.empty(interval="1")
        seed = self._seed + zlib.crc32(category.encode()) % 1000
        n = (until - start) // MINUTE_MS + 1
        data = self._source(n, interval_minutes=1, start_ms=start, seed=seed, symbol=symbol)
        return _on_grid(data, grid)
