"""What a Sharpe ratio (and a number of trials) given in a question means statistically.

Convention. A Sharpe computed over n observations (trades, days, bars) is judged on
those n: standard error sqrt((1 + S²/2)/n) (Lo 2002), t = S·√n, probabilistic Sharpe
against 0 and the minimum track record for 95 % one-sided confidence (Bailey & López
de Prado 2012), normal returns unless skew/kurtosis are given. Which n applies depends
on what the Sharpe is per:
- "per trade" -> n = the trade count;
- "daily/hourly/weekly/monthly" (not annualised) -> n = observations at that frequency;
- "annualised", or a period is given -> n = years × periods per year (the bar size when
  given, else daily, 365/yr); the trade count does not set the precision then;
- neither said and only a trade count given -> both readings are reported: per trade
  (n = trades) and annualised (the engine's convention; needs the period, so the
  answer says how many years would make it significant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agents.analyst._notes import Notes, fmt
from agents.analyst._question import ParsedQuestion
from agents.analyst._significance import (
    expected_max_sharpe,
    min_track_record,
    probabilistic_sharpe,
    sharpe_se,
)

__all__ = ["read_sharpe", "read_trials"]

_DAILY = 365.0


@dataclass(frozen=True)
class _Reading:
    """One interpretation of the Sharpe: per observation, with n and annualisation."""

    code: str  # per_trade | annualised | per_period
    label: str  # said in the text and in Figure.reading
    sharpe: float  # per observation
    n: float | None  # observations behind it, when known
    per_year: float | None  # observations per year; annualised readings scale back by it
    shown: float  # the Sharpe as the user gave it

    def scale(self) -> float:
        """Factor from per-observation units back to the units the user gave."""
        return math.sqrt(self.per_year) if self.code == "annualised" and self.per_year else 1.0


@dataclass(frozen=True)
class _Shape:
    skew: float
    kurtosis: float
    given: bool


def _shape(q: ParsedQuestion) -> _Shape:
    skew, kurt, excess = q.value("skew"), q.value("kurtosis"), q.value("excess_kurtosis")
    if kurt is None and excess is not None:
        kurt = excess + 3.0
    given = skew is not None or kurt is not None
    return _Shape(skew or 0.0, 3.0 if kurt is None else kurt, given)


def _annualised(q: ParsedQuestion, sharpe: float) -> _Reading:
    ppy = q.periods_per_year or _DAILY
    years = q.years
    n_obs = q.value("n_obs")
    if years is None and n_obs is not None and q.periods_per_year:
        years = n_obs / q.periods_per_year
    n = years * ppy if years else None
    bars = q.frequency or "daily returns (365/yr) assumed"
    span = f"{fmt(years)} years" if years else "period not given"
    said = "annualised Sharpe" + ("" if q.basis else " (assumed: the engine's convention)")
    label = f"{said}, {span}, {bars}"
    return _Reading("annualised", label, sharpe / math.sqrt(ppy), n, ppy, sharpe)


def _per_period(q: ParsedQuestion, sharpe: float) -> _Reading:
    ppy = q.periods_per_year
    n = q.value("n_obs")
    if n is None and q.frequency == "daily":
        n = q.value("days")
    if n is None and ppy and q.years:
        n = q.years * ppy
    return _Reading(
        "per_period",
        f"{q.frequency or 'per-period'} Sharpe (not annualised)",
        sharpe,
        n,
        ppy,
        sharpe,
    )


def _readings(q: ParsedQuestion) -> list[_Reading]:
    sharpe = q.value("sharpe")
    if sharpe is None:
        daily = q.value("sharpe_daily")  # the engine's: daily returns, annualised
        if daily is None:
            return []
        return [
            _annualised(
                ParsedQuestion(q.quantities, q.metrics, "annualised", _DAILY, "daily returns"),
                daily,
            )
        ]
    trades = q.value("n_trades")
    per_trade = (
        _Reading(
            "per_trade", f"per-trade Sharpe, n = {fmt(trades)} trades", sharpe, trades, None, sharpe
        )
        if trades
        else None
    )
    if q.basis == "per_trade":
        return [per_trade or _Reading("per_trade", "per-trade Sharpe", sharpe, None, None, sharpe)]
    if q.basis == "per_period":
        return [_per_period(q, sharpe)]
    annual = _annualised(q, sharpe)
    if q.basis is None and annual.n is None and per_trade is not None:
        return [per_trade, annual]
    return [annual]


def _known_n(r: _Reading, shape: _Shape, notes: Notes) -> str:
    assert r.n is not None
    se = sharpe_se(r.sharpe, r.n, shape.skew, shape.kurtosis) * r.scale()
    t = r.sharpe * math.sqrt(r.n)
    psr = probabilistic_sharpe(r.sharpe, r.n, 0.0, shape.skew, shape.kurtosis)
    notes.figure("sharpe_se", se, r.label)
    notes.figure("sharpe_t_stat", t, r.label)
    notes.figure("probabilistic_sharpe", psr, r.label)
    if r.code == "annualised" and r.per_year:
        years = r.n / r.per_year
        how = (f"(Lo 2002 on the per-bar Sharpe, scaled by √periods per year ≈ 1/√years), "
               f"t = {fmt(r.shown)}·√{fmt(years)} years = {fmt(t)}")  # fmt: skip
    else:
        how = f"(Lo 2002, sqrt((1 + S²/2)/n)), t = {fmt(r.shown)}·√{fmt(r.n)} = {fmt(t)}"
    text = f"If {fmt(r.shown)} is the {r.label}: standard error {fmt(se)} {how}, probabilistic Sharpe vs 0 = {psr:.3f}"
    need = min_track_record(r.sharpe, 0.0, skew=shape.skew, kurtosis=shape.kurtosis)
    if need is None:
        return text + "; a Sharpe at or below 0 shows no edge at any sample size."
    notes.figure("min_track_record", need, r.label)
    enough = "met" if r.n >= need else "NOT met"
    if r.code == "annualised" and r.per_year:
        notes.figure("min_track_record_years", need / r.per_year, r.label)
        have = fmt(r.n / r.per_year)
        return (
            text
            + f"; 95 % confidence that the true Sharpe > 0 needs {fmt(need / r.per_year)} years of data (have {have}: {enough})."
        )
    unit = "trades" if r.code == "per_trade" else "observations"
    text += f"; 95 % confidence that the true Sharpe > 0 needs {math.ceil(need)} {unit} ({enough})"
    if r.per_year:
        notes.figure("min_track_record_years", need / r.per_year, r.label)
        text += f", i.e. {fmt(need / r.per_year)} years"
    return text + "."


def _two_readings(q: ParsedQuestion, per_trade: _Reading, annual: _Reading) -> str:
    """The one-line verdict when the Sharpe could be per trade or annualised."""
    head = f"Sharpe {fmt(per_trade.shown)} on {fmt(per_trade.n)} trades, no period given"
    if per_trade.sharpe <= 0:
        return head + ": no evidence of an edge under either reading."
    t = per_trade.sharpe * math.sqrt(per_trade.n or 0)
    enough = (per_trade.n or 0) >= (min_track_record(per_trade.sharpe) or math.inf)
    sig = "significant" if enough else "not significant"
    need = min_track_record(annual.sharpe) or 0.0
    years = need / (annual.per_year or _DAILY)
    return (f"{head}: read per trade, t = {fmt(t)} ({sig} at 95 %); read as annualised (the "
            f"engine's convention), it is significant at 95 % only over at least {fmt(years)} "
            "years of data, so the answer needs the period.")  # fmt: skip


def _unknown_n(r: _Reading, shape: _Shape, notes: Notes) -> str:
    if r.code != "annualised" or r.per_year is None:
        return (
            f"If {fmt(r.shown)} is the {r.label}: its precision depends on how many "
            "observations it was measured on, which the question does not say."
        )
    # Over T years an annualised Sharpe S has t ≈ S·√T whatever the trade count.
    t1 = r.sharpe * math.sqrt(r.per_year)
    psr1 = probabilistic_sharpe(r.sharpe, r.per_year, 0.0, shape.skew, shape.kurtosis)
    notes.figure("sharpe_t_stat_per_sqrt_year", t1, r.label)
    notes.figure("probabilistic_sharpe_1y", psr1, r.label)
    text = (
        f"If {fmt(r.shown)} is annualised (the engine's `sharpe` is), the years of data set "
        f"its precision, not the trade count: t ≈ {fmt(r.shown)}·√years, so 1 year "
        f"gives t = {fmt(t1)} (probabilistic Sharpe {psr1:.3f}), 4 years t = {fmt(2 * t1)}"
    )
    need = min_track_record(r.sharpe, 0.0, skew=shape.skew, kurtosis=shape.kurtosis)
    if need is None:
        return text + "; a Sharpe at or below 0 shows no edge over any period."
    years = need / r.per_year
    notes.figure("min_track_record_years", years, r.label)
    return text + f"; 95 % confidence that the true Sharpe > 0 needs {fmt(years)} years of data."


def _deflated(r: _Reading, n_trials: float, shape: _Shape, notes: Notes) -> str:
    """The best of n_trials zero-edge strategies, and the Sharpe deflated by it."""
    if r.n is None:
        if r.code != "annualised":
            return ""
        k = expected_max_sharpe(n_trials, 1.0)
        notes.figure("expected_max_sharpe_1y", k, r.label)
        return (
            f"Best of {fmt(n_trials)} trials: {fmt(n_trials)} strategies with no edge would "
            f"show a best annualised Sharpe of about {fmt(k)}/√years ({fmt(k)} over 1 year, "
            f"{fmt(k / 2)} over 4): {fmt(r.shown)} must beat that, not 0."
        )
    noise = expected_max_sharpe(n_trials, math.sqrt(1.0 / r.n))
    dsr = probabilistic_sharpe(r.sharpe, r.n, noise, shape.skew, shape.kurtosis)
    notes.figure("expected_max_sharpe", noise * r.scale(), r.label)
    notes.figure("deflated_sharpe", dsr, r.label)
    verdict = "survives" if dsr >= 0.95 else "does not survive"
    return (
        f"Best of {fmt(n_trials)} trials ({r.label}): strategies with no edge would show a "
        f"best Sharpe of about {fmt(noise * r.scale())}; deflated Sharpe ratio (P(true Sharpe "
        f"> that)) = {dsr:.3f}: it {verdict} the search at 95 %."
    )


def read_sharpe(q: ParsedQuestion, notes: Notes) -> None:
    """Paragraphs and figures on the Sharpe the question gives, one per reading."""
    readings = _readings(q)
    if not readings:
        return
    shape = _shape(q)
    if len(readings) > 1:
        notes.summary = _two_readings(q, readings[0], readings[1])
        notes.say(notes.summary)
    trials = q.value("n_trials")
    for r in readings:
        notes.say(_known_n(r, shape, notes) if r.n else _unknown_n(r, shape, notes))
        if trials and trials >= 2:
            notes.say(_deflated(r, trials, shape, notes))
    if shape.given:
        notes.say(
            f"Used skew {fmt(shape.skew)} and kurtosis {fmt(shape.kurtosis)} (normal: 0 and 3)."
        )
    else:
        notes.cannot(
            "the return distribution: normal, independent returns were assumed (skew 0, "
            "kurtosis 3); crypto's fat tails widen every interval above"
        )
    if any(r.code == "per_trade" and r.sharpe > 1 for r in readings):
        notes.say(
            "A per-trade Sharpe above 1 is exceptional (the average trade earns more than "
            "one standard deviation of trade returns): check for look-ahead and costs."
        )
    if any(r.n is None for r in readings):
        notes.cannot(
            "the period and bar size: an annualised Sharpe's precision depends on years of data"
        )


def read_trials(q: ParsedQuestion, notes: Notes) -> None:
    """Trials without a Sharpe: what the best of that many would show by luck alone."""
    trials = q.value("n_trials")
    if trials is None or trials < 2 or q.value("sharpe") is not None:
        return
    years = q.years or 1.0
    k = expected_max_sharpe(trials, 1.0) / math.sqrt(years)
    notes.figure("expected_max_sharpe", k, f"annualised, {fmt(years)} years")
    span = f"{fmt(years)} years" if q.years else "1 year (period not given)"
    notes.say(
        f"With {fmt(trials)} trials over {span}, the best of {fmt(trials)} strategies with "
        f"no edge would show an annualised Sharpe of about {fmt(k)} (expected maximum under "
        "the null, Bailey & López de Prado): the chosen one must beat that, not 0."
    )
