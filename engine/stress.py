"""Stress scenarios as candle rewrites: a price gap, a change of volatility.

Each returns new validated candles under the same symbol, interval and category,
labelled ``synthetic=True``: a transformed series is never market data. Both
rewrites are increasing maps of price, so every bar keeps its OHLC order
(low <= open, close <= high).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from engine.candles import validate_candles
from engine.errors import InvalidDataError, InvalidParameterError
from ohlcv import Candles

__all__ = ["with_gap", "with_volatility"]

F64 = npt.NDArray[np.float64]


def with_gap(candles: Candles, gap: float, at: str | int = "middle") -> Candles:
    """Every price from one bar on multiplied by ``1 + gap``: that bar opens with a gap.

    ``at`` is ``"start"`` (bar 1), ``"middle"`` (bar len // 2), ``"end"`` (bar len - 2)
    or a bar index from 1 to len - 1. ``gap`` is a fraction above -1 (-0.1 = a 10 % drop)."""
    if not gap > -1.0 or not np.isfinite(gap):
        raise InvalidParameterError(
            f"gap must be a fraction above -1 (e.g. -0.1 for a 10 % drop), got {gap!r}"
        )
    n = len(candles)
    if n < 3:
        raise InvalidDataError(f"a gap needs at least 3 bars, got {n}")
    i = _gap_bar(at, n)
    factor = np.ones(n)
    factor[i:] = 1.0 + gap
    return _reprice(candles, lambda p: p * factor)


def with_volatility(candles: Candles, multiplier: float) -> Candles:
    """Every price's log-distance from the first close scaled by ``multiplier``
    (2.0 doubles every move, 0.5 halves it); the first close stays where it is."""
    if not multiplier > 0 or not np.isfinite(multiplier):
        raise InvalidParameterError(f"the volatility multiplier must be > 0, got {multiplier!r}")
    if len(candles) == 0:
        raise InvalidDataError("no candles to rescale; pass at least 1 bar")
    c0 = float(candles.close[0])
    if not c0 > 0:
        raise InvalidDataError(f"the first close is {c0}; rescaling volatility needs positive prices")
    return _reprice(candles, lambda p: c0 * np.power(p / c0, multiplier))


def _gap_bar(at: str | int, n: int) -> int:
    named = {"start": 1, "middle": n // 2, "end": n - 2}
    if isinstance(at, str):
        if at not in named:
            raise InvalidParameterError(f"at={at!r}: choose start, middle, end or a bar index")
        return named[at]
    if not 1 <= at <= n - 1:
        raise InvalidParameterError(f"at={at} is not a bar from 1 to {n - 1}")
    return int(at)


def _reprice(candles: Candles, f: Callable[[F64], F64]) -> Candles:
    """The candles with the increasing map ``f`` applied to every price, validated and
    labelled synthetic; turnover follows the close."""
    open_, close = f(candles.open), f(candles.close)
    # f keeps the order of prices; the bounds only absorb a last-digit rounding of f
    high = np.maximum(f(candles.high), np.maximum(open_, close))
    low = np.minimum(f(candles.low), np.minimum(open_, close))
    ratio = np.divide(close, candles.close, out=np.ones(len(close)), where=candles.close > 0)
    out = Candles(
        candles.time, open_, high, low, close, candles.volume, candles.turnover * ratio,
        **{**candles.labels(), "synthetic": True},
    )
    validate_candles(out)
    return out
