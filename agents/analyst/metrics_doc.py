"""What every metric key of the engine means: formula, meaning, good and bad ranges.

Keyed by the exact names of the engine's flat metrics mapping (see
`specs/engine-semantics.md`, "Metrics"); a test checks the two stay in step.
Fractions are plain fractions (0.12 = 12 %); durations are in bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["METRICS", "MetricDoc", "assess_metric"]


@dataclass(frozen=True)
class MetricDoc:
    """Documentation of one metric key; `good_min`/`bad_max` drive `assess_metric`."""

    formula: str
    meaning: str
    good: str
    bad: str
    higher_is_better: bool | None
    good_min: float | None = None
    bad_max: float | None = None


def _d(
    formula: str,
    meaning: str,
    good: str,
    bad: str,
    higher: bool | None,
    good_min: float | None = None,
    bad_max: float | None = None,
) -> MetricDoc:
    return MetricDoc(formula, meaning, good, bad, higher, good_min, bad_max)


_EXIT = "Trades closed by {what}; compare with n_trades to see how positions usually end."

METRICS: dict[str, MetricDoc] = {
    "total_return": _d(
        "final_equity / initial_equity - 1",
        "Net growth of the account over the test, after fees, slippage and funding.",
        "> buy_and_hold_return and > 0",
        "< 0",
        True,
        0.0,
        0.0,
    ),
    "cagr": _d(
        "(final_equity / initial_equity) ** (365 days / test length) - 1",
        "Return per 365-day year, compounded; comparable across test lengths.",
        "> 0.15 for crypto after costs",
        "< 0",
        True,
        0.15,
        0.0,
    ),
    "final_equity": _d(
        "equity marked to the last close (an open position is valued at that close)",
        "Account value at the end.",
        "above the initial equity",
        "below the initial equity",
        True,
    ),
    "buy_and_hold_return": _d(
        "last_close / first_close - 1",
        "What simply holding the asset earned over the same bars; the benchmark.",
        "the strategy beats it on a risk-adjusted basis",
        "the strategy trails it with more drawdown",
        None,
    ),
    "exposure": _d(
        "bars with an open position / all bars",
        "How much of the time capital is at risk.",
        "0.2-0.8: selective but active",
        "near 0 (too few bets to judge) or near 1 (it is a leveraged buy-and-hold)",
        None,
    ),
    "fees_paid": _d(
        "sum over fills of fee_rate * notional",
        "Total commission paid; compare with the gross profit it consumed.",
        "a small fraction of gross profit (< 20 %)",
        "more than half of gross profit",
        False,
    ),
    "funding_paid": _d(
        "sum over funding times of notional * rate (longs pay positive rates)",
        "Net perpetual funding paid (negative = received).",
        "<= 0 or small against profit",
        "a large share of gross profit",
        False,
    ),
    "max_drawdown": _d(
        "max over bars of 1 - equity / running_max(equity)",
        "The worst peak-to-trough fall of bar-close equity.",
        "< 0.2",
        "> 0.35 (few traders sit through it)",
        False,
        0.2,
        0.35,
    ),
    "max_drawdown_duration": _d(
        "longest run of bars between an equity peak and its recovery",
        "How long you would have waited under water.",
        "short against the test length",
        "a large fraction of the test (months under water)",
        False,
    ),
    "volatility_ann": _d(
        "std(per-bar returns) * sqrt(periods_per_year)",
        "Annualised volatility of the equity curve.",
        "< 0.5 for a single-asset crypto strategy",
        "> 1.0",
        False,
        0.5,
        1.0,
    ),
    "ulcer_index": _d(
        "sqrt(mean(drawdown_t ** 2)) over bars",
        "Depth and duration of drawdowns together; punishes long shallow slumps too.",
        "< 0.05",
        "> 0.15",
        False,
        0.05,
        0.15,
    ),
    "sharpe": _d(
        "mean(per-bar returns) / std(per-bar returns) * sqrt(periods_per_year), risk-free 0",
        "Return per unit of total volatility.",
        "> 1 (> 2 is rare after costs; check for overfitting)",
        "< 0.5, and meaningless with few trades",
        True,
        1.0,
        0.5,
    ),
    "sortino": _d(
        "mean(per-bar returns) / downside_deviation(target 0, all bars) * sqrt(periods_per_year)",
        "Like Sharpe but only downside volatility is penalised.",
        "> 1.5",
        "< 0.5",
        True,
        1.5,
        0.5,
    ),
    "calmar": _d(
        "cagr / max_drawdown",
        "Annual return per unit of worst drawdown.",
        "> 1",
        "< 0.5",
        True,
        1.0,
        0.5,
    ),
    "sharpe_daily": _d(
        "Sharpe of daily-resampled equity returns * sqrt(365)",
        "Sharpe on daily data, comparable with backtesting.py and most reports.",
        "> 1",
        "< 0.5",
        True,
        1.0,
        0.5,
    ),
    "n_trades": _d(
        "count of closed trades (an open one at the end is closed at the last close and flagged)",
        "Sample size behind every trade statistic.",
        ">= 100 for stable statistics",
        "< 30: Sharpe, win rate and profit factor are noise",
        True,
        100,
        30,
    ),
    "win_rate": _d(
        "winning trades / n_trades",
        "Share of trades with positive PnL; meaningless without payoff_ratio.",
        "consistent with payoff_ratio: win_rate > 1 / (1 + payoff_ratio)",
        "below 1 / (1 + payoff_ratio): negative expectancy",
        True,
    ),
    "profit_factor": _d(
        "gross profit / gross loss (on PnL after costs)",
        "Money won per unit of money lost.",
        "> 1.5",
        "< 1 (loses money)",
        True,
        1.5,
        1.0,
    ),
    "expectancy": _d(
        "mean PnL per trade",
        "What one trade earns on average, in account currency.",
        "> 0 by a margin that survives doubled costs",
        "<= 0",
        True,
        0.0,
        0.0,
    ),
    "expectancy_return": _d(
        "mean return per trade (PnL / entry notional)",
        "Average edge per trade as a fraction; compare with 2 * (fee + slippage).",
        "> 3x the round-trip cost",
        "< the round-trip cost",
        True,
    ),
    "avg_win": _d(
        "mean PnL of winning trades",
        "Typical size of a win.",
        "well above avg_loss in magnitude, or with a high win rate",
        "tiny against avg_loss with a modest win rate",
        True,
    ),
    "avg_loss": _d(
        "mean PnL of losing trades (negative)",
        "Typical size of a loss.",
        "small in magnitude against avg_win",
        "larger in magnitude than avg_win with win_rate < 0.5",
        None,
    ),
    "payoff_ratio": _d(
        "avg_win / |avg_loss|",
        "Reward-to-risk per trade actually realised.",
        "> 1.5 for trend following; any value with matching win_rate",
        "< 1 with win_rate < 0.5",
        True,
        1.5,
        1.0,
    ),
    "best_trade": _d(
        "max trade return",
        "The largest win; check results do not hinge on it.",
        "small share of total return",
        "one trade makes most of the return",
        None,
    ),
    "worst_trade": _d(
        "min trade return",
        "The largest loss; tells whether stops work.",
        "close to the stop-loss distance",
        "far beyond the stop (gaps, liquidation)",
        True,
    ),
    "avg_trade_duration": _d(
        "mean bars from entry fill to exit fill",
        "How long positions are held.",
        "matches the intended style (scalping vs swing)",
        "very short holds where costs dominate",
        None,
    ),
    "max_consecutive_losses": _d(
        "longest run of losing trades",
        "Psychological and sizing stress; size so this run is survivable.",
        "< 6",
        "> 10",
        False,
        6,
        10,
    ),
    "sqn": _d(
        "sqrt(n_trades) * mean(trade PnL) / std(trade PnL) (Van Tharp)",
        "System quality: edge per trade relative to its noise, scaled by sample size.",
        "> 2",
        "< 1",
        True,
        2.0,
        1.0,
    ),
    "exits_signal": _d(
        "count of exits by an opposite signal",
        _EXIT.format(what="the strategy's own signal"),
        "most exits for a signal-driven system",
        "n/a",
        None,
    ),
    "exits_sl": _d(
        "count of exits at the stop-loss",
        _EXIT.format(what="the stop-loss"),
        "a minority of exits",
        "most exits: the stop is too tight for the bar noise",
        None,
    ),
    "exits_tp": _d(
        "count of exits at the take-profit",
        _EXIT.format(what="the take-profit"),
        "consistent with the TP distance",
        "almost none: the target is out of reach",
        None,
    ),
    "exits_trail": _d(
        "count of exits at the trailing stop",
        _EXIT.format(what="the trailing stop"),
        "present when a trail is set",
        "n/a",
        None,
    ),
    "exits_liquidation": _d(
        "count of exits by liquidation (isolated margin)",
        _EXIT.format(what="liquidation"),
        "0",
        "> 0: leverage too high for the stops",
        False,
        0,
        0,
    ),
    "exits_end": _d(
        "count of trades still open at the last bar, closed at its close",
        _EXIT.format(what="the end of the data"),
        "0 or 1",
        "a large open trade skews every metric",
        False,
    ),
    "n_ambiguous_bars": _d(
        "bars that touched both SL and TP; resolved by the same_bar rule",
        "How much the result depends on the assumed intrabar path.",
        "a tiny share of trades",
        "a large share: rerun with same_bar='tp_first' and compare",
        False,
    ),
    "n_skipped_orders": _d(
        "n_skipped_no_equity + n_skipped_min_qty (orders not filled, counted)",
        "Signals that could not be executed: equity gone, or the size rounded below min_qty.",
        "0",
        "> 0: the backtest did not trade what it signalled",
        False,
        0,
        0,
    ),
    "n_skipped_no_equity": _d(
        "orders not placed because equity was exhausted (too small to buy anything)",
        "Signals lost because the strategy had lost its capital; more equity would not help.",
        "0",
        "> 0: the account was wiped out (check fees, order size and leverage)",
        False,
        0,
        0,
    ),
    "n_skipped_min_qty": _d(
        "orders whose size rounded below min_qty / qty_step, skipped",
        "Signals too small to execute at this account size.",
        "0",
        "> 0: raise equity or lower the minimum order size",
        False,
        0,
        0,
    ),
    "equity_exhausted_bar_time": _d(
        "ISO time of the bar at which equity could no longer buy anything (null if never)",
        "When the strategy lost its capital.",
        "null",
        "any time: the rest of the test traded nothing",
        None,
    ),
    "n_liquidations": _d(
        "count of positions closed by liquidation", "Leverage failures.", "0", "> 0", False, 0, 0
    ),
    "periods_per_year": _d(
        "365 * 24 * 60 / bar minutes (crypto trades 24/7)",
        "The annualisation factor used for sharpe, sortino and volatility_ann.",
        "matches the bar size (525600 for 1m, 8760 for 1h)",
        "a stock-market 252 applied to crypto",
        None,
    ),
}


def assess_metric(metric: str, value: float | None) -> str | None:
    """A one-line judgement of `value` for `metric`, or None when the doc has no thresholds."""
    doc = METRICS.get(metric)
    if doc is None or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{metric} = {value}: not a finite number, usually too few trades or zero variance"
    if doc.good_min is None or doc.bad_max is None or doc.higher_is_better is None:
        return None
    shown = f"{metric} = {value:.4g}"
    if doc.higher_is_better:
        # Equal thresholds mean a hard line (e.g. expectancy: <= 0 is bad, > 0 good).
        if value < doc.bad_max or (value <= doc.bad_max and doc.good_min == doc.bad_max):
            return f"{shown} is bad (bad: {doc.bad})"
        if value >= doc.good_min:
            return f"{shown} is good (good: {doc.good})"
        return f"{shown} is acceptable but not strong (good: {doc.good})"
    if value > doc.bad_max:
        return f"{shown} is bad (bad: {doc.bad})"
    if value <= doc.good_min:
        return f"{shown} is good (good: {doc.good})"
    return f"{shown} is borderline (good: {doc.good}; bad: {doc.bad})"
