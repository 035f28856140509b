"""Validated candles for the engine: building them, checking the data rules, derived indices.

The container is the floor's `ohlcv.Candles`; the engine adds what only it needs
(the OHLC rules of its spec, UTC day ends, gap counts), computed once per
container because the arrays never change.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine._nb import validate_nb as V
from engine._nb.backtest_nb import day_ends_nb
from engine._nb.validate_nb import count_gaps_nb, validate_nb
from engine.errors import InvalidDataError
from ohlcv import MINUTE_MS, Candles, epoch_ms_array

__all__ = ["count_time_gaps", "day_ends", "make_candles", "validate_candles"]

I64 = npt.NDArray[np.int64]


Column = npt.ArrayLike


def make_candles(
    time: Column, open: Column, high: Column, low: Column, close: Column,
    volume: Column | None = None,
    *,
    symbol: str = "",
    interval: str = "",
    category: str = "",
    synthetic: bool = False,
) -> Candles:
    """Validate arrays and wrap them as :class:`ohlcv.Candles` (volume defaults to 0).

    Times may be epoch seconds or milliseconds (seconds are detected and scaled).
    Raises :class:`InvalidDataError` naming the first bad row and the fix.
    """
    t = epoch_ms_array(time)
    c = Candles.build(
        t, open, high, low, close, np.zeros(len(t)) if volume is None else volume,
        symbol=symbol, interval=interval, category=category, synthetic=synthetic,
    )  # fmt: skip
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
        object.__setattr__(c, "validated", True)  # a check of immutable rows holds for good
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

    def count() -> int:
        if len(c) < 2 or c.interval == "M":  # months differ in length: no gap is a fixed step
            return 0
        step = round(c.bar_minutes * MINUTE_MS) if c.interval else int(np.min(np.diff(c.time)))
        return int(count_gaps_nb(c.time, step))

    return c.memo("engine.time_gaps", count)


def day_ends(c: Candles) -> I64:
    """Index of the last bar of every UTC day (and of the last bar), ascending."""
    result: I64 = c.memo("engine.day_ends", lambda: day_ends_nb(c.time))
    return result
