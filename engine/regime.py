"""Market-regime features of the latest bar: is the market trending, how hard, how volatile.

Plain numbers for whoever judges the regime (the AI router gets them as a dict):
the engine measures, it does not decide.
"""

from __future__ import annotations

import math

import numpy as np

from engine import indicators as ind
from engine.errors import InvalidDataError, InvalidParameterError
from ohlcv import Candles

__all__ = ["regime_features"]


def regime_features(candles: Candles, window: int = 50) -> dict[str, float]:
    """Features of the last bar over ``window`` bars:

    * ``sma_slope``: change of the SMA(window) over the last ``window`` bars, per bar;
    * ``efficiency_ratio``: |net move| / path length of the closes over ``window`` bars
      (1 = a straight line, near 0 = going nowhere);
    * ``volatility_ann``: standard deviation (population) of the last ``window`` log
      returns, annualised;
    * ``volatility_percentile``: share of the rolling volatilities so far at or below it;
    * ``adx``: Wilder's ADX(14), trend strength 0-100.

    Needs at least ``2 * window + 2`` bars."""
    if int(window) != window or window < 2:
        raise InvalidParameterError(f"the regime window must be an integer >= 2, got {window!r}")
    close = candles.close
    need = 2 * window + 2
    if len(close) < need:
        raise InvalidDataError(
            f"regime features over a {window}-bar window need at least {need} bars, got "
            f"{len(close)}; load more history or use a shorter window"
        )
    sma = ind.sma(close, window)
    recent = close[-window - 1 :]
    path = float(np.abs(np.diff(recent)).sum())
    vols = ind.rolling_std(np.diff(np.log(close)), window)
    vols = vols[np.isfinite(vols)]
    latest = float(vols[-1])
    return {
        "sma_slope": float((sma[-1] / sma[-1 - window] - 1.0) / window),
        "efficiency_ratio": abs(float(recent[-1] - recent[0])) / path if path > 0 else 0.0,
        "volatility_ann": latest * math.sqrt(candles.periods_per_year),
        "volatility_percentile": float((vols <= latest).mean()),
        "adx": float(ind.adx(candles.high, candles.low, close)[-1]),
    }
