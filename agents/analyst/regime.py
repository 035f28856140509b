"""Classify a market regime (trend, range, high volatility) from features or closes."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class _TrendGauge:
    """A feature that votes for a trend once it passes `threshold`."""

    key: str
    label: str  # format for the value, e.g. "ADX {:.1f}"
    threshold: float
    span: float  # how far past the threshold the vote reaches full weight
    strong: str
    weak: str

    def vote(self, value: float, reasons: list[str]) -> float:
        """Trend vote in [0.5, 1] past the threshold, else 0; the reason goes to `reasons`."""
        shown = self.label.format(value)
        if value > self.threshold:
            reasons.append(f"{shown} > {self.threshold:g}: {self.strong}")
            return min((value - self.threshold) / self.span, 1.0) * 0.5 + 0.5
        reasons.append(f"{shown} <= {self.threshold:g}: {self.weak}")
        return 0.0


_TREND_GAUGES = (
    _TrendGauge("adx", "ADX {:.1f}", 25, 25, "directional movement", "weak direction"),
    _TrendGauge(
        "efficiency_ratio",
        "efficiency ratio {:.2f}",
        0.3,
        0.4,
        "price moves in a line",
        "price chops back and forth",
    ),
)


def _features(task: MarketRegimeInput, reasons: list[str]) -> dict[str, float]:
    """The given features, completed (never overridden) by those derived from closes."""
    features = dict(task.features)
    if task.closes:
        try:
            derived = features_from_closes(task.closes, task.periods_per_year)
        except ValueError as exc:
            # Too short a history is an answerable case, not an error: say so and use the rest.
            reasons.append(f"closes ignored: {exc}")
            derived = {}
        for key, value in derived.items():
            features.setdefault(key, value)
    return features


def _direction(slope: float | None) -> Direction:
    if slope is None:
        return "flat"
    return "up" if slope > 1e-5 else "down" if slope < -1e-5 else "flat"


def _high_volatility(features: dict[str, float]) -> tuple[str, float] | None:
    """(reason, confidence) when volatility is extreme, else None.

    The percentile (relative to the asset's own history) decides when known; the
    absolute annualised level is only a fallback, since "high" differs by asset.
    """
    vol_pct = features.get("volatility_percentile")
    vol_ann = features.get("volatility_ann")
    if vol_pct is not None:
        if vol_pct < 0.9:
            return None
        reason = f"volatility percentile {vol_pct:.0%} >= 90 % of its own history"
    elif vol_ann is not None and vol_ann >= 1.2:
        reason = f"annualised volatility {vol_ann:.0%} >= 120 %"
    else:
        return None
    return reason, 0.6 + 0.4 * min(max(((vol_pct or 0.9) - 0.9) / 0.1, 0.0), 1.0)


def _trend_score(
    features: dict[str, float], direction: Direction, reasons: list[str]
) -> float | None:
    """Mean trend vote over the available evidence; None when there is none."""
    votes = 0.0
    evidence = 0
    for gauge in _TREND_GAUGES:
        value = features.get(gauge.key)
        if value is not None:
            evidence += 1
            votes += gauge.vote(value, reasons)
    slope = features.get("sma_slope")
    if slope is not None:
        reasons.append(f"SMA slope {slope:+.2e} per bar ({direction})")
        if evidence == 0:
            # The slope alone is weak evidence: only a steep one counts, and only as a 0.6 vote.
            evidence = 1
            if abs(slope) > 5e-4:
                votes = 0.6
    return votes / evidence if evidence else None


def classify_regime(task: MarketRegimeInput) -> MarketRegime:
    """Rules, in order: very high volatility percentile -> high_volatility; strong directional
    evidence (ADX > 25 or efficiency ratio > 0.3, with a non-trivial slope) -> trend; else range."""
    reasons: list[str] = []
    features = _features(task, reasons)
    direction = _direction(features.get("sma_slope"))
    high_vol = _high_volatility(features)
    if high_vol is not None:
        reason, confidence = high_vol
        return MarketRegime(
            summary=f"High-volatility regime ({direction} drift).",
            regime="high_volatility",
            direction=direction,
            confidence=round(confidence, 3),
            reasons=[*reasons, reason],
            features=features,
        )
    score = _trend_score(features, direction, reasons)
    if score is None:
        return MarketRegime(
            summary="Not enough features: assuming a range.",
            regime="range",
            direction=direction,
            confidence=0.2,
            reasons=[*reasons, "no usable adx, efficiency_ratio, sma_slope or closes"],
            features=features,
        )
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
