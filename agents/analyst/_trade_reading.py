"""What a win rate, profit factor, drawdown, trade count or overfitting probability given
in a question means, with the numbers."""

from __future__ import annotations

import math

from agents.analyst._notes import Notes, fmt
from agents.analyst._question import ParsedQuestion
from agents.analyst._significance import (
    Z_ONE_SIDED_95,
    Z_TWO_SIDED_95,
    expected_max_drawdown,
    wilson_interval,
)
from agents.analyst.metrics_doc import assess_metric

__all__ = ["read_drawdown", "read_other_metrics", "read_probabilities", "read_trade_stats"]


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def _win_rate(q: ParsedQuestion, p: float, notes: Notes) -> None:
    n = q.value("n_trades") or q.value("n_obs")
    if not n or n < 1:
        if p != 0.5:
            need = math.ceil((Z_TWO_SIDED_95 * 0.5 / (p - 0.5)) ** 2)
            notes.figure("trades_to_tell_from_50pct", need, "two-sided 95 %")
            notes.say(
                f"Win rate {_pct(p)}: the question gives no trade count; about {need} trades "
                "are needed before it can be told apart from a coin flip (50 %) at 95 %."
            )
        notes.cannot("the number of trades behind the win rate")
        return
    reading = f"win rate over {fmt(n)} trades"
    se = math.sqrt(p * (1 - p) / n)
    low, high = wilson_interval(p, n)
    z = (p - 0.5) / math.sqrt(0.25 / n)
    for name, value in (("win_rate_se", se), ("win_rate_ci_low", low), ("win_rate_ci_high", high),
                        ("win_rate_z_vs_50pct", z)):  # fmt: skip
        notes.figure(name, value, reading)
    verdict = "distinguishable" if abs(z) >= Z_TWO_SIDED_95 else "NOT distinguishable"
    notes.say(
        f"Win rate {_pct(p)} over {fmt(n)} trades: binomial standard error {_pct(se)}, 95 % "
        f"interval {_pct(low)} to {_pct(high)} (Wilson); z = {fmt(z)} against 50 %: {verdict} "
        "from a coin flip at 95 %."
    )
    payoff = q.value("payoff_ratio")
    if payoff:
        breakeven = 1 / (1 + payoff)
        notes.figure("breakeven_win_rate", breakeven, f"payoff ratio {fmt(payoff)}")
        where = "above" if low > breakeven else "below" if high < breakeven else "straddles"
        notes.say(
            f"With payoff ratio {fmt(payoff)} the break-even win rate is {_pct(breakeven)}; "
            f"the 95 % interval {where} it"
            + (" (the edge is not established)." if where == "straddles" else ".")
        )
    elif not q.value("profit_factor"):
        notes.cannot(
            "the payoff ratio (average win / average loss): a win rate alone says nothing about profit"
        )


def _profit_factor(q: ParsedQuestion, pf: float, notes: Notes) -> None:
    n = q.value("n_trades")
    p = q.value("win_rate")
    text = f"Profit factor {fmt(pf)}" + (f" on {fmt(n)} trades" if n else "")
    text += (
        ": it has no simple standard error (it depends on the sizes of the wins and losses); "
        "a few large trades can carry it"
    )
    if n is not None and n < 100:
        text += f", and with {fmt(n)} trades one or two outliers can move it across 1"
    if pf < 1:
        text += "; below 1 the strategy loses money whatever the sample size says"
    notes.say(text + ". Bootstrap the trade list (resample trades) and read its 5th percentile.")
    if p and 0 < p < 1:
        payoff = pf * (1 - p) / p
        notes.figure("implied_payoff_ratio", payoff, f"profit factor {fmt(pf)}, win rate {_pct(p)}")
        notes.say(
            f"Profit factor {fmt(pf)} at win rate {_pct(p)} implies a payoff ratio (average win / average loss) of {fmt(payoff)}."
        )
    notes.cannot("the trade list (to bootstrap the profit factor)")


def _trades_only(n: float, notes: Notes) -> None:
    se50 = math.sqrt(0.25 / n)
    min_sharpe = Z_ONE_SIDED_95 / math.sqrt(n)
    reading = f"{fmt(n)} trades"
    notes.figure("win_rate_se_at_50pct", se50, reading)
    notes.figure("min_significant_per_trade_sharpe", min_sharpe, reading)
    notes.say(
        f"{fmt(n)} trades: a win rate near 50 % is known to ±{_pct(Z_TWO_SIDED_95 * se50)} "
        f"(95 %), and a per-trade Sharpe must exceed 1.645/√{fmt(n)} = {fmt(min_sharpe)} to be "
        "significant at 95 %; under 30 trades, Sharpe, win rate and profit factor are mostly noise."
    )


def read_trade_stats(q: ParsedQuestion, notes: Notes) -> None:
    """Win rate, profit factor, and a bare trade count when nothing else is given."""
    p, pf, n = q.value("win_rate"), q.value("profit_factor"), q.value("n_trades")
    if p is not None and 0 <= p <= 1:
        _win_rate(q, p, notes)
    if pf is not None:
        _profit_factor(q, pf, notes)
    if n and n >= 1 and p is None and pf is None and q.value("sharpe") is None:
        _trades_only(n, notes)


def read_drawdown(q: ParsedQuestion, notes: Notes) -> None:
    """Recovery needed, and what a zero-edge strategy of the same volatility would lose."""
    dd = q.value("max_drawdown")
    if dd is None or not 0 < dd < 1:
        return
    recovery = dd / (1 - dd)
    notes.figure("recovery_gain", recovery, f"drawdown {_pct(dd)}")
    text = f"Max drawdown {_pct(dd)}: recovering it needs a gain of {_pct(recovery)}"
    vol, years = q.value("volatility"), q.years
    if vol and years:
        noise = expected_max_drawdown(vol, years)
        reading = f"volatility {_pct(vol)}/yr, {fmt(years)} years, zero edge"
        notes.figure("expected_max_drawdown_no_edge", noise, reading)
        side = "smaller" if dd < noise else "larger"
        text += (
            f". A strategy with no edge at {_pct(vol)} annual volatility would expect a worst "
            f"drawdown of about {_pct(noise)} over {fmt(years)} years (sqrt(pi/2)·σ·√T, "
            f"Magdon-Ismail 2004); yours is {side}. Drawdowns grow with time (about √T): expect "
            "a deeper one live than in a short backtest"
        )
    else:
        notes.cannot("the volatility and horizon behind the drawdown (to compare it with chance)")
    cagr = q.value("cagr")
    if cagr is not None:
        notes.figure("calmar", cagr / dd, "cagr / max drawdown")
        text += f". Calmar = {_pct(cagr)} / {_pct(dd)} = {fmt(cagr / dd)}"
    notes.say(text + ".")


_PROBABILITIES = {
    "pbo": (
        "PBO {v}: the probability that the configuration best in-sample ranks below the median "
        "out of sample (CSCV); below 0.1 is reassuring, above 0.5 is worse than picking at random. "
        "It says nothing when every configuration loses: the best of losers still loses."
    ),
    "deflated_sharpe": (
        "Deflated Sharpe {v}: the probability that the true Sharpe beats the best expected from "
        "the trials by luck alone; the usual bar is 0.95, so {v} {verdict}."
    ),
    "psr": (
        "Probabilistic Sharpe {v}: the probability that the true Sharpe is above 0 given the "
        "sample length and return shape; the usual bar is 0.95, so {v} {verdict}."
    ),
}


def read_probabilities(q: ParsedQuestion, notes: Notes) -> None:
    """PBO, deflated and probabilistic Sharpe are probabilities: say which side of the bar."""
    for role, template in _PROBABILITIES.items():
        v = q.value(role)
        if v is None or not 0 <= v <= 1:
            continue
        verdict = "passes" if v >= 0.95 else "falls short"
        notes.say(template.format(v=fmt(v), verdict=verdict))


_HANDLED = {"sharpe", "sharpe_daily", "win_rate", "profit_factor", "max_drawdown", "n_trades",
            "pbo", "deflated_sharpe", "psr"}  # fmt: skip


def read_other_metrics(q: ParsedQuestion, notes: Notes) -> None:
    """Any other engine metric with a value: the metrics table's judgement of it."""
    handled = set(_HANDLED)
    if q.value("win_rate") is not None:
        handled.add("payoff_ratio")
    if q.value("max_drawdown") is not None:
        handled.add("cagr")
    for role, quantity in q.quantities.items():
        line = None if role in handled else assess_metric(role, quantity.value)
        if line:
            notes.say(line + ".")
