"""Market-regime features computed with the engine's indicators (the router only judges them)."""

from __future__ import annotations

import math

import numpy as np

import engine as E
from engine import indicators as ind

__all__ = ["regime_features"]


def _adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> float:
    """Wilder's ADX of the last bar (the engine has ATR but no ADX)."""
    up = np.diff(high)
    down = -np.diff(low)
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    atr = ind.atr(high, low, close, n)[1:]
    # Wilder smoothing = EMA with alpha 1/n = span 2n-1.
    span = 2 * n - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        plus_di = 100 * ind.ema(plus_dm, span) / atr
        minus_di = 100 * ind.ema(minus_dm, span) / atr
        dx = 100 * np.abs(plus_di - minus_di) / (plus_di + minus_di)
    dx = np.nan_to_num(dx, nan=0.0, posinf=0.0, neginf=0.0)
    return float(ind.ema(dx, span)[-1])


def regime_features(candles: E.Candles, window: int = 50) -> dict[str, float]:
    """sma_slope, efficiency_ratio, volatility_ann, volatility_percentile and adx of the last bar."""
    close = candles.close
    if len(close) < 2 * window + 2:
        raise E.InvalidDataError(
            f"need at least {2 * window + 2} bars for regime features, got {len(close)}"
        )
    sma = ind.sma(close, window)
    slope = (sma[-1] / sma[-1 - window] - 1.0) / window
    recent = close[-window - 1 :]
    path = float(np.abs(np.diff(recent)).sum())
    er = abs(float(recent[-1] - recent[0])) / path if path > 0 else 0.0
    rets = np.diff(np.log(close))
    vols = ind.rolling_std(rets, window)
    vols = vols[np.isfinite(vols)]
    latest = float(vols[-1])
    return {
        "sma_slope": float(slope),
        "efficiency_ratio": er,
        "volatility_ann": latest * math.sqrt(candles.periods_per_year),
        "volatility_percentile": float((vols <= latest).mean()),
        "adx": _adx(candles.high, candles.low, close),
    }
