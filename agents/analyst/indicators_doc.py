"""The engine's built-in indicators: formula, usual parameters, pitfalls.

Definitions match the engine's (EMA seeded with the first close, RSI and ATR
with Wilder's smoothing seeded by an SMA), so answers agree with its numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["INDICATORS", "IndicatorDoc", "find_indicator"]


@dataclass(frozen=True)
class IndicatorDoc:
    """Documentation of one built-in indicator."""

    name: str
    formula: str
    usual_params: dict[str, Any]
    interpretation: str
    pitfalls: tuple[str, ...]
    aliases: tuple[str, ...] = field(default=())


INDICATORS: dict[str, IndicatorDoc] = {
    "ema": IndicatorDoc(
        "EMA",
        "ema[0] = close[0]; ema[t] = alpha * close[t] + (1 - alpha) * ema[t-1], alpha = 2 / (n + 1)",
        {"n": [9, 12, 20, 26, 50, 200]},
        "A moving average weighting recent prices more; crossovers of a fast and a slow EMA mark trend changes.",
        (
            "Seeded with the first close, so the first ~3n bars still carry the seed: skip that warm-up.",
            "Values depend on where the series starts; compare only over the same start.",
            "Crossovers lag; in ranges they whipsaw and fees add up.",
        ),
        ("exponential moving average",),
    ),
    "sma": IndicatorDoc(
        "SMA",
        "sma[t] = mean(close[t-n+1 .. t]); NaN for the first n-1 bars",
        {"n": [20, 50, 100, 200]},
        "Plain average of the last n closes; slope shows trend, price above/below shows bias.",
        (
            "A centred window (rolling(center=True)) uses future bars: look-ahead.",
            "Lags by about n/2 bars.",
            "NaN warm-up must be excluded, not filled with zeros.",
        ),
        ("simple moving average", "moving average", "ma"),
    ),
    "rsi": IndicatorDoc(
        "RSI (Wilder)",
        "avg_gain/avg_loss seeded with the SMA of the first n changes, then Wilder's smoothing "
        "(alpha = 1/n); RSI = 100 - 100 / (1 + avg_gain / avg_loss)",
        {"n": 14, "overbought": 70, "oversold": 30},
        "Momentum oscillator 0..100; extremes suggest stretched moves, divergences weakening trends.",
        (
            "Cutler's (SMA) variant and EMA-based variants give different numbers; ours is Wilder's as TradingView/TA-Lib.",
            "In strong trends RSI stays overbought/oversold for long: mean-reversion entries get run over.",
            "Needs about 10*n bars to converge away from the seed.",
        ),
        ("relative strength index",),
    ),
    "atr": IndicatorDoc(
        "ATR (Wilder)",
        "TR = max(high - low, |high - prev_close|, |low - prev_close|); ATR = Wilder smoothing of TR (alpha = 1/n), seeded with the SMA of the first n TRs",
        {"n": 14, "stop_multiple": [1.5, 2, 3]},
        "Average bar range in price units; sizes stops and positions to volatility.",
        (
            "In price units, not percent: normalise (ATR / close) before comparing assets.",
            "Jumps after gaps; a stop at k*ATR set on a quiet day is tight after a shock.",
        ),
        ("average true range",),
    ),
    "macd": IndicatorDoc(
        "MACD",
        "macd = EMA(fast) - EMA(slow); signal = EMA(macd, signal_n); histogram = macd - signal",
        {"fast": 12, "slow": 26, "signal": 9},
        "Trend momentum: signal-line crossovers and zero-line crossings.",
        (
            "Three EMAs stacked: long warm-up (about 3 * slow bars).",
            "In price units: not comparable across assets or price levels.",
            "Lags; many false crossovers in ranges.",
        ),
        ("moving average convergence divergence",),
    ),
    "bollinger": IndicatorDoc(
        "Bollinger Bands",
        "mid = SMA(n); upper/lower = mid ± k * std(close over n)  (population std, ddof=0)",
        {"n": 20, "k": 2.0},
        "Volatility envelope; band squeezes precede expansions, closes outside bands signal extremes.",
        (
            "ddof=0 vs ddof=1 changes the bands slightly; state which you use.",
            "Touching a band is not a signal in a trend ('walking the band').",
            "Centred windows in plotting code leak the future into signals.",
        ),
        ("bollinger bands", "bbands", "bb"),
    ),
    "donchian": IndicatorDoc(
        "Donchian Channel",
        "upper = max(high over the previous n bars); lower = min(low over the previous n bars); mid = (upper + lower) / 2",
        {"n": [20, 55]},
        "Breakout channel (Turtle rules): a close above the prior n-bar high starts a trend trade.",
        (
            "Including the current bar's high in the channel makes a breakout impossible to trigger by close, "
            "or look-ahead if the bar's high is used to enter at its open: shift the channel by one bar.",
            "Breakouts fail often in ranges; the edge lives in the few large trends.",
        ),
        ("donchian channel", "donchian channels", "breakout channel"),
    ),
}


def find_indicator(text: str) -> IndicatorDoc | None:
    """The indicator named in `text` (key, display name or alias), if any."""
    lowered = text.lower()
    for key, doc in INDICATORS.items():
        names = (key, doc.name.lower(), *doc.aliases)
        for name in sorted(names, key=len, reverse=True):
            if _word_in(name, lowered):
                return doc
    return None


def _word_in(word: str, text: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text) is not None
