"""`Candles`: OHLCV bars as parallel numpy arrays, with the labels that travel with them.

One type for everything that holds candles: the exchange client's pages, the
store's chunks, the sample generator, the engine's input. The labels (symbol,
interval, category, `synthetic`) survive slicing, concatenation, resampling and
export, so data that did not come from the exchange is never passed off as if
it did. Arrays are immutable by contract: derive new candles, never edit them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ohlcv.intervals import MINUTE_MS, MINUTES_PER_YEAR, Interval

__all__ = ["COLUMNS", "Candles"]

COLUMNS: tuple[str, ...] = ("time", "open", "high", "low", "close", "volume", "turnover")
LABELS: tuple[str, ...] = ("symbol", "interval", "category", "synthetic")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
T = TypeVar("T")


def _f64(values: npt.ArrayLike) -> F64:
    return np.ascontiguousarray(values, dtype=np.float64)


def _ms(values: npt.ArrayLike) -> I64:
    t = np.asarray(values)
    if t.dtype.kind == "M":
        return np.ascontiguousarray(t.astype("datetime64[ms]").astype(np.int64))
    return np.ascontiguousarray(t, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Candles:
    """Bars in ascending time; `time` is each bar's open in UTC epoch ms.

    Volume is in the base coin and turnover in the quote coin; NaN where the
    source has none (mark and index price klines). `validated` is set by whoever
    checked the OHLC rules (the engine); slices of checked candles stay checked.
    Build from loose arrays with `Candles.build`.
    """

    time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    turnover: F64
    symbol: str = ""
    interval: str = ""
    category: str = ""
    synthetic: bool = False
    validated: bool = field(default=False, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.time)
        for name in COLUMNS[1:]:
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"column {name!r} has {len(getattr(self, name))} rows but time has {n}; "
                    "all columns must be the same length"
                )

    # -- building ---------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        time: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike | None = None,
        turnover: npt.ArrayLike | None = None,
        **labels: Any,
    ) -> Candles:
        """Candles from array-likes (times in epoch ms, or datetime64). Missing volume is NaN;
        missing turnover is volume x close. `labels`: symbol, interval, category, synthetic."""
        t = _ms(time)
        prices = [_f64(p) for p in (open, high, low, close)]
        vol = np.full(len(t), np.nan) if volume is None else _f64(volume)
        turn = vol * prices[3] if turnover is None else _f64(turnover)
        return cls(t, prices[0], prices[1], prices[2], prices[3], vol, turn, **labels)

    @classmethod
    def from_arrays(cls, data: Mapping[str, npt.ArrayLike], **labels: Any) -> Candles:
        """Candles from a mapping with keys time, open, high, low, close[, volume, turnover]."""
        return cls.build(
            data["time"], data["open"], data["high"], data["low"], data["close"],
            data.get("volume"), data.get("turnover"), **labels,
        )  # fmt: skip

    @classmethod
    def empty(cls, **labels: Any) -> Candles:
        """No rows."""
        f = np.empty(0, dtype=np.float64)
        return cls(np.empty(0, dtype=np.int64), f, f, f, f, f, f, **labels)

    @classmethod
    def concat(cls, parts: Iterable[Candles]) -> Candles:
        """Rows of every part in order (no sorting, no de-duplication); labels of the first."""
        items = list(parts)
        rows = [p for p in items if len(p)]
        if not rows:
            return items[0] if items else cls.empty()
        if len(rows) == 1:
            return rows[0]
        cols = [np.concatenate([getattr(p, name) for p in rows]) for name in COLUMNS]
        return rows[0].with_rows(cols, validated=False)

    # -- labels -----------------------------------------------------------------------
    def labels(self) -> dict[str, Any]:
        """symbol, interval, category and synthetic, as keyword arguments."""
        return {name: getattr(self, name) for name in LABELS}

    def relabel(self, **labels: Any) -> Candles:
        """The same rows with some labels changed."""
        return dataclasses.replace(self, **labels)

    # -- rows -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.time.shape[0])

    def columns(self) -> dict[str, np.ndarray]:
        """Columns by name (the arrays themselves, not copies)."""
        return {c: getattr(self, c) for c in COLUMNS}

    def take(self, index: npt.ArrayLike | slice) -> Candles:
        """Rows selected by a slice, an integer index array or a boolean mask."""
        cols = [getattr(self, name)[index] for name in COLUMNS]
        keeps_order = isinstance(index, slice) and index.step in (None, 1)
        return self.with_rows(cols, validated=self.validated and keeps_order)

    def with_rows(self, cols: list[np.ndarray], *, validated: bool) -> Candles:
        """Other rows (in COLUMNS order) under these labels."""
        t, o, h, lo, c, v, to = cols
        return Candles(
            t, o, h, lo, c, v, to, self.symbol, self.interval, self.category, self.synthetic,
            validated,
        )  # fmt: skip

    def slice(self, start: int, stop: int) -> Candles:
        """Rows `[start, stop)`, sharing memory."""
        return self.take(slice(start, stop))

    def between(self, start: int | None = None, end: int | None = None) -> Candles:
        """Rows with start <= time <= end (both inclusive); needs ascending times."""
        lo = 0 if start is None else int(np.searchsorted(self.time, start, side="left"))
        hi = len(self) if end is None else int(np.searchsorted(self.time, end, side="right"))
        return self.take(slice(lo, hi))

    def tail(self, n: int) -> Candles:
        """The last `n` rows (all when fewer)."""
        return self.take(slice(max(0, len(self) - n), len(self)))

    def sorted_unique(self) -> Candles:
        """Ascending by time, one row per time; the *latest* row for a time wins."""
        n = len(self)
        t = self.time
        if n < 2 or bool(np.all(t[1:] > t[:-1])):
            return self
        order = np.argsort(t, kind="stable")
        ts = t[order]
        # Stable sort keeps arrival order inside equal times: the last of each run is the latest.
        last = np.ones(n, dtype=bool)
        last[:-1] = ts[1:] != ts[:-1]
        return self.take(order[last])

    def equals(self, other: Candles) -> bool:
        """Row-for-row equality of every column (NaN equal to NaN); labels are not compared."""
        return len(self) == len(other) and all(
            np.array_equal(getattr(self, c), getattr(other, c), equal_nan=c != "time")
            for c in COLUMNS
        )

    # -- derived values ---------------------------------------------------------------
    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` once per container (the arrays never change), then the stored value."""
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    @property
    def bar_minutes(self) -> float:
        """Bar length in minutes: from the interval label, else the median time step."""
        if self.interval:
            return Interval.parse(self.interval, native_only=False).minutes
        if len(self) < 2:
            return 1.0
        return float(np.median(np.diff(self.time))) / MINUTE_MS

    @property
    def periods_per_year(self) -> float:
        """Bars per 365-day year (crypto trades around the clock)."""
        return MINUTES_PER_YEAR / self.bar_minutes

    def fingerprint(self) -> str:
        """A short stable hash of the rows and labels, for cache keys (computed once)."""

        def compute() -> str:
            h = hashlib.blake2b(digest_size=12)
            for name in COLUMNS:
                h.update(np.ascontiguousarray(getattr(self, name)).tobytes())
            h.update(f"{self.symbol}|{self.interval}|{self.category}|{self.synthetic}".encode())
            return h.hexdigest()

        return self.memo("fingerprint", compute)
