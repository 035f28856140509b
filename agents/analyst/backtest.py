"""Red flags, verdict and risk advice from one backtest's metrics mapping."""

from __future__ import annotations

import math
from collections.abc import Mapping

from agents.outputs import BacktestAnalysis, RedFlag, RiskAdvice, Severity, Verdict
from agents.tasks import AnalyzeBacktestInput, RiskAdviceInput

__all__ = ["analyze_backtest", "find_red_flags", "metric", "risk_advice"]

Metrics = Mapping[str, float | int | None]

_SUGGESTIONS = {
    "few_trades": "Test on a longer history or more symbols until n_trades is at least 30 (100 is better).",
    "losing": "The strategy loses after costs: revisit the entry logic before tuning parameters.",
    "profit_factor_below_1": "Gross losses exceed gross profits: widen targets, cut losing setups, or drop the idea.",
    "drawdown_beyond_tolerance": "Reduce position size or add a regime filter so drawdown fits the tolerance.",
    "fees_eat_edge": "Trade less often (longer timeframe, wider thresholds) or use maker orders: fees consume the edge.",
    "fees_exceed_edge": "Costs turn a gross profit into a net loss: the raw signal is too weak for taker fees.",
    "exposure_near_zero": "The strategy is almost never in the market: results rest on a handful of bets.",
    "exposure_near_one": "Always in the market: compare honestly with buy-and-hold at the same leverage.",
    "liquidations": "Lower leverage or tighten stops: positions were liquidated.",
    "skipped_orders": "Raise equity or lower min size: some signals could not be executed.",
    "ambiguous_bars": "Many bars hit both SL and TP: rerun with same_bar='tp_first' and 'ohlc_path' to bound the result.",
    "sharpe_too_good": "A very high Sharpe on few trades is usually overfitting: validate walk-forward out of sample.",
    "long_losing_streak": "Size positions so the longest losing streak stays survivable.",
    "underperforms_buy_and_hold": "Holding the asset did better with the same exposure: the signal adds little.",
    "non_finite_metric": "Some metrics are undefined (too few trades or zero variance).",
}


def metric(metrics: Metrics, key: str) -> float | None:
    """A finite metric value as float, or None when missing, null, NaN or infinite."""
    value = metrics.get(key)
    if value is None or isinstance(value, bool):
        return None
    as_float = float(value)
    return as_float if math.isfinite(as_float) else None


def _flag(
    code: str, severity: Severity, key: str, value: float | None, threshold: float | None, msg: str
) -> RedFlag:
    return RedFlag(
        code=code, severity=severity, metric=key, value=value, threshold=threshold, message=msg
    )


def _fee_share(metrics: Metrics) -> tuple[float | None, float | None]:
    """(fees / gross profit before fees, gross profit) from equity, return and fees."""
    fees = metric(metrics, "fees_paid")
    final = metric(metrics, "final_equity")
    ret = metric(metrics, "total_return")
    if fees is None or final is None or ret is None or ret <= -1:
        return None, None
    initial = final / (1.0 + ret)
    funding = metric(metrics, "funding_paid") or 0.0
    gross = (final - initial) + fees + funding
    if gross <= 0:
        return None, gross
    return fees / gross, gross


def find_red_flags(
    metrics: Metrics, *, max_drawdown_tolerance: float = 0.25, min_trades: int = 30
) -> list[RedFlag]:
    """Every red flag in `metrics`, most severe first; deterministic for a given input."""
    flags: list[RedFlag] = []
    n = metric(metrics, "n_trades")
    if n is not None and n < min_trades:
        sev: Severity = "critical" if n < 10 else "warning"
        flags.append(
            _flag(
                "few_trades",
                sev,
                "n_trades",
                n,
                float(min_trades),
                f"Only {int(n)} trades: too few for the Sharpe ratio, win rate or profit factor to mean anything (need >= {min_trades}).",
            )
        )
    ret = metric(metrics, "total_return")
    if ret is not None and ret < 0:
        flags.append(
            _flag(
                "losing",
                "critical",
                "total_return",
                ret,
                0.0,
                f"The strategy lost {-ret:.1%} after costs.",
            )
        )
    pf = metric(metrics, "profit_factor")
    if pf is not None and pf < 1:
        flags.append(
            _flag(
                "profit_factor_below_1",
                "critical",
                "profit_factor",
                pf,
                1.0,
                f"Profit factor {pf:.2f} < 1: gross losses exceed gross profits.",
            )
        )
    dd = metric(metrics, "max_drawdown")
    if dd is not None and dd > max_drawdown_tolerance:
        flags.append(
            _flag(
                "drawdown_beyond_tolerance",
                "critical",
                "max_drawdown",
                dd,
                max_drawdown_tolerance,
                f"Max drawdown {dd:.1%} exceeds the tolerance of {max_drawdown_tolerance:.0%}.",
            )
        )
    share, gross = _fee_share(metrics)
    fees = metric(metrics, "fees_paid")
    if share is not None and share >= 1:
        flags.append(
            _flag(
                "fees_exceed_edge",
                "critical",
                "fees_paid",
                fees,
                gross,
                f"Fees ({fees:.2f}) exceed the gross profit before fees ({gross:.2f}): costs turn a winner into a loser.",
            )
        )
    elif share is not None and share >= 0.5:
        flags.append(
            _flag(
                "fees_eat_edge",
                "warning",
                "fees_paid",
                fees,
                gross,
                f"Fees take {share:.0%} of the gross profit before fees.",
            )
        )
    exposure = metric(metrics, "exposure")
    if exposure is not None and exposure < 0.05:
        flags.append(
            _flag(
                "exposure_near_zero",
                "warning",
                "exposure",
                exposure,
                0.05,
                f"In the market only {exposure:.1%} of bars: too few bets to judge.",
            )
        )
    elif exposure is not None and exposure > 0.95:
        flags.append(
            _flag(
                "exposure_near_one",
                "warning",
                "exposure",
                exposure,
                0.95,
                f"In the market {exposure:.1%} of bars: this behaves like buy-and-hold.",
            )
        )
    bh = metric(metrics, "buy_and_hold_return")
    if ret is not None and bh is not None and exposure is not None and exposure > 0.8 and ret < bh:
        flags.append(
            _flag(
                "underperforms_buy_and_hold",
                "info",
                "total_return",
                ret,
                bh,
                f"Return {ret:.1%} trails buy-and-hold {bh:.1%} with {exposure:.0%} exposure.",
            )
        )
    liq = metric(metrics, "n_liquidations") or metric(metrics, "exits_liquidation")
    if liq:
        flags.append(
            _flag(
                "liquidations",
                "critical",
                "n_liquidations",
                liq,
                0.0,
                f"{int(liq)} position(s) were liquidated.",
            )
        )
    skipped = metric(metrics, "n_skipped_orders")
    if skipped:
        flags.append(
            _flag(
                "skipped_orders",
                "warning",
                "n_skipped_orders",
                skipped,
                0.0,
                f"{int(skipped)} order(s) were too small to fill and were skipped.",
            )
        )
    amb = metric(metrics, "n_ambiguous_bars")
    if amb and n and amb / n > 0.1:
        flags.append(
            _flag(
                "ambiguous_bars",
                "warning",
                "n_ambiguous_bars",
                amb,
                0.1 * n,
                f"{int(amb)} bars touched both SL and TP ({amb / n:.0%} of trades): the result depends on the assumed intrabar path.",
            )
        )
    sharpe = metric(metrics, "sharpe")
    if sharpe is not None and sharpe > 3 and (n is None or n < 100):
        flags.append(
            _flag(
                "sharpe_too_good",
                "warning",
                "sharpe",
                sharpe,
                3.0,
                f"Sharpe {sharpe:.2f} on {int(n) if n is not None else 'an unknown number of'} trades is implausibly high.",
            )
        )
    streak = metric(metrics, "max_consecutive_losses")
    if streak is not None and streak > 10:
        flags.append(
            _flag(
                "long_losing_streak",
                "info",
                "max_consecutive_losses",
                streak,
                10.0,
                f"{int(streak)} losses in a row at worst.",
            )
        )
    for key in ("sharpe", "sortino", "profit_factor"):
        raw = metrics.get(key)
        if key in metrics and (raw is None or (isinstance(raw, float) and not math.isfinite(raw))):
            flags.append(
                _flag("non_finite_metric", "info", key, None, None, f"{key} is undefined ({raw}).")
            )
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(flags, key=lambda f: order[f.severity])  # stable: same input, same order


def _strengths(metrics: Metrics, tolerance: float) -> list[str]:
    out: list[str] = []
    sharpe = metric(metrics, "sharpe")
    if sharpe is not None and sharpe >= 1:
        out.append(f"Sharpe {sharpe:.2f} >= 1.")
    pf = metric(metrics, "profit_factor")
    if pf is not None and pf >= 1.5:
        out.append(f"Profit factor {pf:.2f} >= 1.5.")
    dd = metric(metrics, "max_drawdown")
    if dd is not None and dd <= tolerance / 2:
        out.append(f"Max drawdown {dd:.1%} is well inside the {tolerance:.0%} tolerance.")
    ret, bh = metric(metrics, "total_return"), metric(metrics, "buy_and_hold_return")
    if ret is not None and bh is not None and ret > bh:
        out.append(f"Beats buy-and-hold ({ret:.1%} vs {bh:.1%}).")
    sqn = metric(metrics, "sqn")
    if sqn is not None and sqn > 2:
        out.append(f"SQN {sqn:.2f} > 2.")
    return out


def analyze_backtest(task: AnalyzeBacktestInput) -> BacktestAnalysis:
    """Verdict, red flags, strengths and suggestions for one backtest."""
    flags = find_red_flags(
        task.metrics, max_drawdown_tolerance=task.max_drawdown_tolerance, min_trades=task.min_trades
    )
    codes = {f.code for f in flags}
    if codes & {"losing", "profit_factor_below_1", "fees_exceed_edge"}:
        verdict: Verdict = "losing"
    elif codes & {"few_trades", "liquidations", "sharpe_too_good"}:
        verdict = "unreliable"
    elif any(f.severity != "info" for f in flags):
        verdict = "needs_work"
    else:
        verdict = "promising"
    suggestions = list(dict.fromkeys(_SUGGESTIONS[f.code] for f in flags))
    if verdict == "promising":
        suggestions.append(
            "Validate out of sample (walk-forward) and with doubled fees before trading it."
        )
    name = task.strategy or "The strategy"
    critical = sum(f.severity == "critical" for f in flags)
    summary = f"{name}: {verdict.replace('_', ' ')}; {len(flags)} red flag(s), {critical} critical."
    return BacktestAnalysis(
        summary=summary,
        verdict=verdict,
        red_flags=flags,
        strengths=_strengths(task.metrics, task.max_drawdown_tolerance),
        suggestions=suggestions,
    )


def risk_advice(task: RiskAdviceInput) -> RiskAdvice:
    """Position size, leverage cap and stop distance that respect the drawdown tolerance."""
    m = task.metrics
    flags = find_red_flags(m, max_drawdown_tolerance=task.max_drawdown_tolerance)
    advice: list[str] = []
    ret, pf = metric(m, "total_return"), metric(m, "profit_factor")
    if (ret is not None and ret < 0) or (pf is not None and pf < 1):
        return RiskAdvice(
            summary="Do not trade this live: it loses money after costs.",
            position_fraction=0.0,
            max_leverage=0.0,
            stop_loss_hint=None,
            advice=["Allocate nothing until the strategy is profitable after costs out of sample."],
            red_flags=flags,
        )
    dd = metric(m, "max_drawdown")
    # Future drawdowns exceed the backtest's: plan for 1.5x the observed one.
    dd_fraction = 1.0 if not dd else min(task.max_drawdown_tolerance / (1.5 * dd), task.leverage)
    advice.append(
        f"Sizing for 1.5x the observed drawdown ({dd or 0:.1%}) keeps it within {task.max_drawdown_tolerance:.0%}: use at most {dd_fraction:.2f}x equity."
    )
    win, payoff = metric(m, "win_rate"), metric(m, "payoff_ratio")
    fraction = dd_fraction
    if win is not None and payoff:
        kelly = win - (1 - win) / payoff
        half_kelly = max(kelly / 2, 0.0)
        advice.append(
            f"Kelly fraction {kelly:.2f} (win rate {win:.0%}, payoff {payoff:.2f}); half-Kelly {half_kelly:.2f}."
        )
        fraction = min(fraction, max(half_kelly, 0.05))
    n = metric(m, "n_trades")
    if n is not None and n < 30:
        fraction /= 2
        advice.append(f"Only {int(n)} trades: halve the size until more evidence accumulates.")
    position = round(min(fraction, 1.0), 4)
    max_lev = round(max(1.0, min(fraction, task.leverage)), 2) if position >= 1 else 1.0
    stop = round(min(task.risk_per_trade / max(position, 1e-9), 0.2), 4) if position > 0 else None
    if stop is not None:
        advice.append(
            f"At {position:.0%} of equity per position, a stop {stop:.2%} from entry risks {task.risk_per_trade:.1%} of equity per trade."
        )
    if task.account_equity:
        advice.append(
            f"With equity {task.account_equity:,.2f}: notional per position about {task.account_equity * position:,.2f}."
        )
    if metric(m, "n_liquidations"):
        max_lev = 1.0
        advice.append("Liquidations occurred: trade without leverage.")
    summary = (
        f"Risk {position:.0%} of equity per position, leverage at most {max_lev:g}x, stop about {stop:.2%}."
        if stop
        else "Allocate nothing."
    )
    return RiskAdvice(
        summary=summary,
        position_fraction=position,
        max_leverage=max_lev,
        stop_loss_hint=stop,
        advice=advice,
        red_flags=flags,
    )
