"""Red flags, verdict and risk advice from one backtest's metrics mapping."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agents.outputs import BacktestAnalysis, RedFlag, RiskAdvice, Severity, Verdict
from agents.tasks import AnalyzeBacktestInput, RiskAdviceInput

__all__ = ["analyze_backtest", "find_red_flags", "metric", "risk_advice"]

Metrics = Mapping[str, float | int | str | None]

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
    "equity_exhausted": "The strategy lost its capital: check fees (fractions: 0.00055 = 0.055 %), the order size against equity, and leverage before anything else.",
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
    try:
        as_float = float(value)
    except ValueError:  # text where a number belongs (e.g. a time): not a metric value
        return None
    return as_float if math.isfinite(as_float) else None


@dataclass(frozen=True)
class _Limits:
    """What the user will tolerate; some rules judge the metrics against it."""

    max_drawdown_tolerance: float
    min_trades: int


def _flag(
    code: str, severity: Severity, key: str, value: float | None, threshold: float | None, msg: str
) -> RedFlag:
    return RedFlag(
        code=code, severity=severity, metric=key, value=value, threshold=threshold, message=msg
    )


@dataclass(frozen=True)
class _Bound:
    """A flag raised when one metric stands on the wrong side of a fixed bound."""

    code: str
    severity: Severity
    key: str
    breached: Callable[[float, float], bool]  # (value, bound) -> flag it
    bound: float
    message: Callable[[float], str]

    def __call__(self, metrics: Metrics, limits: _Limits) -> list[RedFlag]:
        value = metric(metrics, self.key)
        if value is None or not self.breached(value, self.bound):
            return []
        return [_flag(self.code, self.severity, self.key, value, self.bound, self.message(value))]


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


def _too_few_trades(metrics: Metrics, limits: _Limits) -> list[RedFlag]:
    n = metric(metrics, "n_trades")
    if n is None or n >= limits.min_trades:
        return []
    severity: Severity = "critical" if n < 10 else "warning"
    message = f"Only {int(n)} trades: too few for the Sharpe ratio, win rate or profit factor to mean anything (need >= {limits.min_trades})."
    return [_flag("few_trades", severity, "n_trades", n, float(limits.min_trades), message)]


def _drawdown(metrics: Metrics, limits: _Limits) -> list[RedFlag]:
    dd, tolerance = metric(metrics, "max_drawdown"), limits.max_drawdown_tolerance
    if dd is None or dd <= tolerance:
        return []
    message = f"Max drawdown {dd:.1%} exceeds the tolerance of {tolerance:.0%}."
    return [_flag("drawdown_beyond_tolerance", "critical", "max_drawdown", dd, tolerance, message)]


def _fees(metrics: Metrics, limits: _Limits) -> list[RedFlag]:
    share, gross = _fee_share(metrics)
    fees = metric(metrics, "fees_paid")
    if share is None or share < 0.5:
        return []
    if share >= 1:
        message = f"Fees ({fees:.2f}) exceed the gross profit before fees ({gross:.2f}): costs turn a winner into a loser."
        return [_flag("fees_exceed_edge", "critical", "fees_paid", fees, gross, message)]
    message = f"Fees take {share:.0%} of the gross profit before fees."
    return [_flag("fees_eat_edge", "warning", "fees_paid", fees, gross, message)]


def _trails_buy_and_hold(metrics: Metrics, limits: _Limits) -> list[RedFlag]:
    ret, bh = metric(metrics, "total_return"), metric(metrics, "buy_and_hold_return")
    exposure = metric(metrics, "exposure")
    # Only a strategy that is nearly always in the market is fairly compared with holding.
    if ret is None or bh is None or exposure is None or exposure <= 0.8 or ret >= bh:
        return []
    message = f"Return {ret:.1%} trails buy-and-hold {bh:.1%} with {exposure:.0%} exposure."
    return [_flag("underperforms_buy_and_hold", "info", "total_return", ret, bh, message)]


def _liquidations(metrics: Metrics, limits: _Limits) -> list[RedFlag]:
    # Engines report liquidations under either name; the flag always names the first.
    liq = metric(metrics, "n_liquidations") or metric(metrics, "exits_liquidation")
    if not liq:
        return []
    message = f"{int(liq)} position(s) were liquidated."
    return [_flag("liquidations", "critical", "n_liquidations", liq, 0.0, message)]


def _skipped_split(metrics: Metrics) -> tuple[float, float] | None:
    """(skipped for no equity, skipped below min size), or None when the engine reported
    only the total (older mappings); a missing half is the total minus the other."""
    no_equity = metric(metrics, "n_skipped_no_equity")
    min_qty = metric(metrics, "n_skipped_min_qty")
    if no_equity is None and min_qty is None:
        return None
    total = metric(metrics, "n_skipped_orders")
    if no_equity is None:
        no_equity = max((total or 0.0) - (min_qty or 0.0), 0.0)
    if min_qty is None:
        min_qty = max((total or 0.0) - no_equity, 0.0)
    return no_equity, min_qty


def _when(value: object) -> str | None:
    """An ISO time as given, or epoch milliseconds (the engine's time unit) as ISO UTC."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e14:
        return datetime.fromtimestamp(value / 1000, UTC).isoformat(timespec="minutes")
    return None


def _skipped_orders(metrics: Metrics, limits: _Limits) -> list[RedFlag]:
    # Orders skipped because the account was empty need the opposite fix of orders
    # skipped for being below min size: more equity would only lose more.
    split = _skipped_split(metrics)
    exhausted_at = _when(metrics.get("equity_exhausted_bar_time"))
    if split is None:
        total = metric(metrics, "n_skipped_orders")
        if not total:
            return []
        message = f"{int(total)} order(s) were too small to fill and were skipped."
        return [_flag("skipped_orders", "warning", "n_skipped_orders", total, 0.0, message)]
    no_equity, min_qty = split
    flags = []
    if no_equity or exhausted_at:
        when = f" at {exhausted_at}" if exhausted_at else ""
        message = (
            f"Equity ran out{when}: {int(no_equity)} order(s) could not be placed; the strategy "
            "lost its capital (check fees/size/leverage)."
        )
        flags.append(
            _flag("equity_exhausted", "critical", "n_skipped_no_equity", no_equity, 0.0, message)
        )
    if min_qty:
        message = f"{int(min_qty)} order(s) were below the minimum order size and were skipped."
        flags.append(_flag("skipped_orders", "warning", "n_skipped_min_qty", min_qty, 0.0, message))
    return flags


def _ambiguous_bars(metrics: Metrics, limits: _Limits) -> list[RedFlag]:
    amb, n = metric(metrics, "n_ambiguous_bars"), metric(metrics, "n_trades")
    if not (amb and n and amb / n > 0.1):
        return []
    message = f"{int(amb)} bars touched both SL and TP ({amb / n:.0%} of trades): the result depends on the assumed intrabar path."
    return [_flag("ambiguous_bars", "warning", "n_ambiguous_bars", amb, 0.1 * n, message)]


def _sharpe_too_good(metrics: Metrics, limits: _Limits) -> list[RedFlag]:
    sharpe, n = metric(metrics, "sharpe"), metric(metrics, "n_trades")
    # A high Sharpe earned over many trades is plausible; over few it is usually overfitting.
    if sharpe is None or sharpe <= 3 or (n is not None and n >= 100):
        return []
    trades = int(n) if n is not None else "an unknown number of"
    message = f"Sharpe {sharpe:.2f} on {trades} trades is implausibly high."
    return [_flag("sharpe_too_good", "warning", "sharpe", sharpe, 3.0, message)]


def _undefined_ratios(metrics: Metrics, limits: _Limits) -> list[RedFlag]:
    flags = []
    for key in ("sharpe", "sortino", "profit_factor"):
        raw = metrics.get(key)
        if key in metrics and (raw is None or (isinstance(raw, float) and not math.isfinite(raw))):
            flags.append(
                _flag("non_finite_metric", "info", key, None, None, f"{key} is undefined ({raw}).")
            )
    return flags


_Rule = Callable[[Metrics, _Limits], list[RedFlag]]

# Table order is the order of flags within one severity, so it is part of the output.
_RULES: tuple[_Rule, ...] = (
    _too_few_trades,
    _Bound(
        "losing",
        "critical",
        "total_return",
        operator.lt,
        0.0,
        lambda ret: f"The strategy lost {-ret:.1%} after costs.",
    ),
    _Bound(
        "profit_factor_below_1",
        "critical",
        "profit_factor",
        operator.lt,
        1.0,
        lambda pf: f"Profit factor {pf:.2f} < 1: gross losses exceed gross profits.",
    ),
    _drawdown,
    _fees,
    _Bound(
        "exposure_near_zero",
        "warning",
        "exposure",
        operator.lt,
        0.05,
        lambda exposure: f"In the market only {exposure:.1%} of bars: too few bets to judge.",
    ),
    _Bound(
        "exposure_near_one",
        "warning",
        "exposure",
        operator.gt,
        0.95,
        lambda exposure: f"In the market {exposure:.1%} of bars: this behaves like buy-and-hold.",
    ),
    _trails_buy_and_hold,
    _liquidations,
    _skipped_orders,
    _ambiguous_bars,
    _sharpe_too_good,
    _Bound(
        "long_losing_streak",
        "info",
        "max_consecutive_losses",
        operator.gt,
        10.0,
        lambda streak: f"{int(streak)} losses in a row at worst.",
    ),
    _undefined_ratios,
)

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def find_red_flags(
    metrics: Metrics, *, max_drawdown_tolerance: float = 0.25, min_trades: int = 30
) -> list[RedFlag]:
    """Every red flag in `metrics`, most severe first; deterministic for a given input."""
    limits = _Limits(max_drawdown_tolerance, min_trades)
    flags = [flag for rule in _RULES for flag in rule(metrics, limits)]
    return sorted(
        flags, key=lambda f: _SEVERITY_ORDER[f.severity]
    )  # stable: same input, same order


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
    if codes & {"losing", "profit_factor_below_1", "fees_exceed_edge", "equity_exhausted"}:
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


def _position_fraction(task: RiskAdviceInput, advice: list[str]) -> float:
    """Fraction of equity per position: the tightest of the drawdown, half-Kelly and
    sample-size limits; each limit explains itself in `advice`."""
    m = task.metrics
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
    return fraction


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
    fraction = _position_fraction(task, advice)
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
