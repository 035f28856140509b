"""The candle container every engine function takes, and its validation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine._nb import validate_nb as V
from engine._nb.backtest_nb import day_ends_nb
from engine._nb.validate_nb import count_gaps_nb, validate_nb
from engine.errors import InvalidDataError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MINUTE_MS = 60_000
_MINUTES_PER_YEAR = 365 * 24 * 60


@dataclass(frozen=True)
class Candles:
    """OHLCV arrays in ascending time order, immutable by contract.

    ``time`` holds bar open times in UTC epoch milliseconds (int64); prices and
    volume are float64. Build one with :func:`make_candles` (which validates)
    rather than the constructor.
    """

    time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    symbol: str = ""
    interval: str = ""
    synthetic: bool = False
    meta: dict[str, str] = field(default_factory=dict)
    validated: bool = field(default=False, compare=False, repr=False)
    _day_ends: I64 | None = field(default=None, init=False, compare=False, repr=False)
    _gaps: int | None = field(default=None, init=False, compare=False, repr=False)

    def __len__(self) -> int:
        return int(self.close.shape[0])

    @property
    def bar_minutes(self) -> float:
        """Bar length in minutes, from the interval label or the median time step."""
        minutes = interval_minutes(self.interval) if self.interval else None
        if minutes is not None:
            return float(minutes)
        if len(self) < 2:
            return 1.0
        return float(np.median(np.diff(self.time))) / MINUTE_MS

    @property
    def periods_per_year(self) -> float:
        """Bars per 365-day year (crypto trades 24/7)."""
        return _MINUTES_PER_YEAR / self.bar_minutes

    def slice(self, start: int, stop: int) -> Candles:
        """Bars ``[start, stop)`` as a new container sharing memory."""
        s = slice(start, stop)
        return Candles(
            self.time[s], self.open[s], self.high[s], self.low[s], self.close[s],
            self.volume[s], self.symbol, self.interval, self.synthetic, dict(self.meta),
            self.validated,
        )

    def day_ends(self) -> I64:
        """Index of the last bar of every UTC day (and of the last bar), ascending;
        computed once per container, since the arrays never change."""
        if self._day_ends is None:
            object.__setattr__(self, "_day_ends", day_ends_nb(self.time))
        assert self._day_ends is not None
        return self._day_ends

    def fingerprint(self) -> str:
        """A short stable hash of the data, for cache keys."""
        import hashlib

        h = hashlib.blake2b(digest_size=12)
        for arr in (self.time, self.open, self.high, self.low, self.close, self.volume):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(f"{self.symbol}|{self.interval}".encode())
        return h.hexdigest()


def interval_minutes(interval: str | int) -> int | None:
    """Minutes in a Bybit interval label (``"15"``, ``"60"``, ``"D"``, ``"W"``); None for ``"M"``."""
    text = str(interval).strip().upper()
    if text.isdigit():
        return int(text)
    return {"D": 1440, "W": 10080}.get(text)


def make_candles(
    time: npt.ArrayLike,
    open: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike | None = None,
    *,
    symbol: str = "",
    interval: str = "",
    synthetic: bool = False,
) -> Candles:
    """Validate arrays and wrap them as :class:`Candles`.

    Times may be epoch seconds or milliseconds (seconds are detected and scaled).
    Raises :class:`InvalidDataError` naming the first bad row and the fix.
    """
    t = np.asarray(time)
    if t.dtype.kind == "M":
        t = t.astype("datetime64[ms]").astype(np.int64)
    t = t.astype(np.int64, copy=False)
    cols = {}
    for name, arr in (("open", open), ("high", high), ("low", low), ("close", close)):
        cols[name] = np.ascontiguousarray(arr, dtype=np.float64)
    vol = (
        np.zeros(t.shape[0], dtype=np.float64)
        if volume is None
        else np.ascontiguousarray(volume, dtype=np.float64)
    )
    if t.size and t.max() < 10_000_000_000:  # < year 2286 in seconds: it is seconds
        t = t * 1000
    c = Candles(
        np.ascontiguousarray(t), cols["open"], cols["high"], cols["low"], cols["close"], vol,
        symbol=symbol, interval=interval, synthetic=synthetic,
    )
    validate_candles(c)
    return c


_COLUMNS = ("open", "high", "low", "close", "volume")


def validate_candles(c: Candles) -> None:
    """Raise :class:`InvalidDataError` if the candles break any data rule of the spec.

    The message names the first bad row and how to fix it. Candles that pass
    are marked so later calls skip the check, which reads every value and costs
    as much memory traffic as a backtest. Candles are immutable by contract:
    build new ones (``make_candles``) rather than editing their arrays."""
    if c.validated:
        return
    n = c.time.shape[0]
    if n == 0:
        raise InvalidDataError("no candles: the data set is empty; pass at least 2 bars")
    for name in _COLUMNS:
        arr = getattr(c, name)
        if arr.shape[0] != n:
            raise InvalidDataError(
                f"column '{name}' has {arr.shape[0]} rows but time has {n}; all columns must be equal length"
            )
    code, row, col = validate_nb(c.time, c.open, c.high, c.low, c.close, c.volume)
    if code == V.OK:
        object.__setattr__(c, "validated", True)
        return
    if code in (V.BAD_TIME_DUP, V.BAD_TIME_ORDER):
        kind = "a duplicate of" if code == V.BAD_TIME_DUP else "earlier than"
        raise InvalidDataError(
            f"time at row {row} is {kind} the previous row; times must be strictly increasing "
            "(sort by time and drop duplicates, e.g. df.sort_values('time').drop_duplicates('time'))"
        )
    if code == V.BAD_NONFINITE:
        raise InvalidDataError(
            f"{_COLUMNS[col]} is NaN or infinite at row {row}; drop or fill those rows (e.g. df.dropna())"
        )
    if code == V.BAD_NEGATIVE:
        value = getattr(c, _COLUMNS[col])[row]
        raise InvalidDataError(
            f"{_COLUMNS[col]} is negative at row {row} ({value}); prices and volume must be >= 0"
        )
    o, h, lo, cl = c.open[row], c.high[row], c.low[row], c.close[row]
    if code == V.BAD_HIGH_LOW:
        raise InvalidDataError(
            f"high < low at row {row} (high={h}, low={lo}); the high and low columns may be swapped"
        )
    which = "high < max(open, close)" if code == V.BAD_HIGH else "low > min(open, close)"
    raise InvalidDataError(
        f"{which} at row {row} (open={o}, high={h}, low={lo}, close={cl}); "
        "the columns may be swapped or mislabeled"
    )


def count_time_gaps(c: Candles) -> int:
    """Steps longer than one bar (missing bars): reported, never rejected.

    Counted once per container (every backtest reports it; the arrays never change)."""
    if c._gaps is None:
        gaps = 0
        if len(c) >= 2:
            step = round(c.bar_minutes * MINUTE_MS) if c.interval else int(np.min(np.diff(c.time)))
            gaps = int(count_gaps_nb(c.time, step))
        object.__setattr__(c, "_gaps", gaps)
    assert c._gaps is not None
    return c._gaps
