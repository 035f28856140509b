"""`Candles`: a column-oriented batch of OHLCV candles in numpy arrays."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

__all__ = ["COLUMNS", "Candles"]

COLUMNS: tuple[str, ...] = ("time", "open", "high", "low", "close", "volume", "turnover")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Candles:
    """Candles as parallel arrays; `time` is the open time in ms (UTC).

    Volume is always in the base coin and turnover in the quote coin (the
    client swaps Bybit's inverse columns). Mark, index and premium klines carry
    NaN volume and turnover.
    """

    time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    turnover: F64

    def __post_init__(self) -> None:
        n = len(self.time)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(
                    f"column {f.name!r} has {len(getattr(self, f.name))} rows, time has {n}"
                )

    def __len__(self) -> int:
        return len(self.time)

    @classmethod
    def empty(cls) -> Candles:
        """A batch with no rows."""
        f = np.empty(0, dtype=np.float64)
        return cls(np.empty(0, dtype=np.int64), f, f, f, f, f, f)

    @classmethod
    def from_arrays(cls, data: Mapping[str, npt.ArrayLike]) -> Candles:
        """Build from a mapping with keys time/open/high/low/close[/volume/turnover].

        Missing volume or turnover become NaN; turnover defaults to volume × close
        when only volume is given, which is what a generator without turnover means.
        """
        time = np.ascontiguousarray(data["time"], dtype=np.int64)
        cols = {
            k: np.ascontiguousarray(data[k], dtype=np.float64)
            for k in ("open", "high", "low", "close")
        }
        nan = np.full(len(time), np.nan)
        volume = np.ascontiguousarray(data["volume"], dtype=np.float64) if "volume" in data else nan
        if "turnover" in data:
            turnover = np.ascontiguousarray(data["turnover"], dtype=np.float64)
        else:
            turnover = volume * cols["close"]
        return cls(time, cols["open"], cols["high"], cols["low"], cols["close"], volume, turnover)

    @classmethod
    def concat(cls, parts: Iterable[Candles]) -> Candles:
        """Concatenate batches (no sorting, no de-duplication)."""
        items = [p for p in parts if len(p)]
        if not items:
            return cls.empty()
        if len(items) == 1:
            return items[0]
        t, o, h, lo, c, v, to = (
            np.concatenate([getattr(p, name) for p in items]) for name in COLUMNS
        )
        return cls(t, o, h, lo, c, v, to)

    def to_dict(self) -> dict[str, np.ndarray]:
        """Columns by name (the arrays themselves, not copies)."""
        return {c: getattr(self, c) for c in COLUMNS}

    def take(self, index: npt.ArrayLike | slice) -> Candles:
        """Rows selected by an integer index array or a boolean mask."""
        t, o, h, lo, c, v, to = (getattr(self, name)[index] for name in COLUMNS)
        return Candles(t, o, h, lo, c, v, to)

    def between(self, start: int | None = None, end: int | None = None) -> Candles:
        """Rows with start <= time <= end (both inclusive); needs ascending times."""
        lo = 0 if start is None else int(np.searchsorted(self.time, start, side="left"))
        hi = len(self) if end is None else int(np.searchsorted(self.time, end, side="right"))
        return self.take(slice(lo, hi))

    def sorted_unique(self) -> Candles:
        """Ascending by time, one row per time; the *latest* row for a time wins."""
        n = len(self)
        if n == 0:
            return self
        t = self.time
        if n == 1 or bool(np.all(t[1:] > t[:-1])):
            return self
        order = np.argsort(t, kind="stable")
        ts = t[order]
        # Stable sort keeps arrival order inside equal times, so the last of each run is the latest.
        last = np.ones(n, dtype=bool)
        last[:-1] = ts[1:] != ts[:-1]
        return self.take(order[last])

    def equals(self, other: Candles) -> bool:
        """Row-for-row equality (NaN equal to NaN)."""
        return len(self) == len(other) and all(
            np.array_equal(getattr(self, c), getattr(other, c), equal_nan=c != "time")
            for c in COLUMNS
        )
