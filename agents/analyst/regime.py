"""Classify a market regime (trend, range, high volatility) from features or closes."""

from __future__ import annotations

import math

import numpy as np

from agents.outputs import Direction, MarketRegime
from agents.tasks import MarketRegimeInput

__all__ = ["classify_regime", "features_from_closes"]


def features_from_closes(
    closes: list[float], periods_per_year: float, window: int = 50
) -> dict[str, float]:
    """sma_slope, efficiency_ratio, volatility_ann and volatility_percentile from closes.

    - sma_slope: change of SMA(window) over the last `window` bars, per bar, as a fraction.
    - efficiency_ratio: |net move| / sum |bar moves| over the last `window` bars (Kaufman).
    - volatility_percentile: rank of the latest rolling volatility in its own history.
    """
    arr = np.asarray(closes, dtype=float)
    if arr.size < 2 * window + 1 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"need at least {2 * window + 1} positive finite closes, got {arr.size}")
    sma = np.convolve(arr, np.ones(window) / window, mode="valid")
    slope = (sma[-1] / sma[-1 - window] - 1.0) / window
    recent = arr[-window - 1 :]
    path = float(np.abs(np.diff(recent)).sum())
    er = abs(float(recent[-1] - recent[0])) / path if path > 0 else 0.0
    rets = np.diff(np.log(arr))
    vols = np.array([rets[i - window : i].std() for i in range(window, rets.size + 1)])
    latest = float(vols[-1])
    pct = float((vols <= latest).mean())
    return {
        "sma_slope": float(slope),
        "efficiency_ratio": er,
        "volatility_ann": latest * math.sqrt(periods_per_year),
        "volatility_percentile": pct,
    }


def classify_regime(task: MarketRegimeInput) -> MarketRegime:
    """Rules, in order: very high volatility percentile -> high_volatility; strong directional
    evidence (ADX > 25 or efficiency ratio > 0.3, with a non-trivial slope) -> trend; else range."""
    features = dict(task.features)
    reasons: list[str] = []
    if task.closes:
        try:
            derived = features_from_closes(task.closes, task.periods_per_year)
        except ValueError as exc:
            # Too short a history is an answerable case, not an error: say so and use the rest.
            reasons.append(f"closes ignored: {exc}")
            derived = {}
        for key, value in derived.items():
            features.setdefault(key, value)
    slope = features.get("sma_slope")
    adx = features.get("adx")
    er = features.get("efficiency_ratio")
    vol_pct = features.get("volatility_percentile")
    vol_ann = features.get("volatility_ann")
    direction: Direction = "flat"
    if slope is not None:
        direction = "up" if slope > 1e-5 else "down" if slope < -1e-5 else "flat"

    high_vol = (vol_pct is not None and vol_pct >= 0.9) or (
        vol_ann is not None and vol_pct is None and vol_ann >= 1.2
    )
    if high_vol:
        if vol_pct is not None:
            reasons.append(f"volatility percentile {vol_pct:.0%} >= 90 % of its own history")
        else:
            reasons.append(f"annualised volatility {vol_ann:.0%} >= 120 %")
        confidence = 0.6 + 0.4 * min(max(((vol_pct or 0.9) - 0.9) / 0.1, 0.0), 1.0)
        return MarketRegime(
            summary=f"High-volatility regime ({direction} drift).",
            regime="high_volatility",
            direction=direction,
            confidence=round(confidence, 3),
            reasons=reasons,
            features=features,
        )

    trend_votes = 0.0
    evidence = 0
    if adx is not None:
        evidence += 1
        if adx > 25:
            trend_votes += min((adx - 25) / 25, 1.0) * 0.5 + 0.5
            reasons.append(f"ADX {adx:.1f} > 25: directional movement")
        else:
            reasons.append(f"ADX {adx:.1f} <= 25: weak direction")
    if er is not None:
        evidence += 1
        if er > 0.3:
            trend_votes += min((er - 0.3) / 0.4, 1.0) * 0.5 + 0.5
            reasons.append(f"efficiency ratio {er:.2f} > 0.3: price moves in a line")
        else:
            reasons.append(f"efficiency ratio {er:.2f} <= 0.3: price chops back and forth")
    if slope is not None:
        reasons.append(f"SMA slope {slope:+.2e} per bar ({direction})")
    if evidence == 0 and slope is not None:
        evidence = 1
        if abs(slope) > 5e-4:
            trend_votes = 0.6
    if evidence == 0:
        return MarketRegime(
            summary="Not enough features: assuming a range.",
            regime="range",
            direction=direction,
            confidence=0.2,
            reasons=[*reasons, "no usable adx, efficiency_ratio, sma_slope or closes"],
            features=features,
        )
    score = trend_votes / evidence
    if score >= 0.5 and direction != "flat":
        return MarketRegime(
            summary=f"Trending {direction}.",
            regime="trend",
            direction=direction,
            confidence=round(min(score, 1.0), 3),
            reasons=reasons,
            features=features,
        )
    return MarketRegime(
        summary="Range-bound market.",
        regime="range",
        direction=direction,
        confidence=round(1.0 - min(score, 0.9), 3),
        reasons=reasons,
        features=features,
    )
