"""Read a free question: which metrics it names, which numbers it gives and what each one is.

"Is a Sharpe of 1.2 on 40 trades meaningful?" -> sharpe = 1.2, n_trades = 40. A number
takes its role from the unit right after it ("40 trades", "3 years", "200 combinations",
"15m") or else from the metric named just before it ("Sharpe of 1.2", "win rate 55 %")
or just after it ("a 55 % win rate"). Numbers with no role (EMA 20/50, a year) are
ignored. English and Russian keywords; matching is case-insensitive.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from agents.analyst.metrics_doc import METRICS

__all__ = ["FRACTION_ROLES", "Basis", "ParsedQuestion", "Quantity", "parse_question"]

Basis = Literal["annualised", "per_trade", "per_period"]

# Roles whose value is a fraction: "55 %", "55" and "0.55" all mean 0.55.
FRACTION_ROLES = frozenset(
    {"win_rate", "max_drawdown", "volatility", "total_return", "cagr", "exposure", "pbo"}
)

# (pattern, role) for metric names; longer matches win over the ones they contain
# ("deflated sharpe" over "sharpe"). Every engine metric key is added below.
_ALIASES: tuple[tuple[str, str], ...] = (
    (r"sharpe(?:[ _]ratio)?|шарп\w*", "sharpe"),
    (r"sortino|сортино", "sortino"),
    (r"calmar|калмар\w*", "calmar"),
    (r"max(?:imum)?[ _.]?(?:drawdown|dd)|mdd|drawdown|dd|просадк\w*", "max_drawdown"),
    (
        r"win[ _-]?rate|win ratio|hit (?:rate|ratio)|winners|winning trades|винрейт\w*|"
        r"(?:доля|процент) прибыльных(?: сделок)?",
        "win_rate",
    ),
    (r"profit[ _-]?factor|pf|профит[ -]?фактор\w*", "profit_factor"),
    (r"payoff(?: ratio)?|reward[ -]to[ -]risk", "payoff_ratio"),
    (r"n_trades|number of trades|trade count|(?:количеств\w*|кол-во|число) сделок", "n_trades"),
    (r"n_trials|(?:number of )?trials|(?:количеств\w*|число) (?:комбинаций|попыток)", "n_trials"),
    (
        r"(?:annuali[sz]ed |annual )?vol(?:atility)?|volatility_ann|sigma|σ|волатильн\w*",
        "volatility",
    ),
    (r"pbo|probability of backtest overfitting|вероятност\w* переобучения", "pbo"),
    (r"deflated sharpe(?: ratio)?|dsr|дефлированн\w* шарп\w*", "deflated_sharpe"),
    (r"probabilistic sharpe(?: ratio)?|psr|вероятностн\w* шарп\w*", "psr"),
    (r"cagr|annual(?:i[sz]ed)? return|годов\w* доходност\w*", "cagr"),
    (r"total return|return|доходност\w*", "total_return"),
    (r"skew(?:ness)?|асимметри\w*", "skew"),
    (r"excess kurtosis|эксцесс\w*", "excess_kurtosis"),
    (r"kurtosis|куртозис\w*", "kurtosis"),
)

# Roles that count or measure time: only positive values make sense.
_COUNTS = frozenset({"n_trades", "n_trials", "n_obs", "years", "days", "timeframe_minutes"})
_LARGEST = 1e12  # beyond this a number is a typo, and 1 - 1/N stays below 1.0 in floats

# Units right after a number: (pattern, role, factor to the role's unit).
_UNITS: tuple[tuple[str, str, float], ...] = (
    (r"trades?|deals?|round[ -]trips?|positions|сделк\w*|сделок|трейд\w*", "n_trades", 1.0),
    (
        r"trials?|combinations?|combos?|backtests?|parameter (?:sets?|combinations?)|"
        r"configurations?|configs?|variants?|strateg(?:y|ies) (?:tried|tested)|комбинац\w*|"
        r"вариант\w*|прогон\w*|бэктест\w*|попыт\w*|конфигурац\w*",
        "n_trials",
        1.0,
    ),
    (r"years?|yrs?|год\w*|лет", "years", 1.0),
    (r"months?|mo|мес\w*", "years", 1 / 12),
    (r"weeks?|недел\w*", "years", 7 / 365),
    (r"(?:trading )?days?|дн\w*|дней|сут\w*", "days", 1.0),
    (
        r"(?:daily |hourly |weekly |monthly )?(?:bars?|candles?|observations?|obs|periods|"
        r"returns|data points)|свеч\w*|бар\w*|наблюден\w*",
        "n_obs",
        1.0,
    ),
    (r"m|min|mins|minutes?|мин\w*", "timeframe_minutes", 1.0),
    (r"h|hr|hours?|час\w*", "timeframe_minutes", 60.0),
    (r"d", "timeframe_minutes", 1440.0),
)

# Words before a number that make it the number of trials: "best of 200", "tried 50".
_TRIALS_BEFORE = re.compile(
    r"(?:best|top)(?: one)? (?:of|out of|among)\s*$|(?:tried|tested|searched)\s*$|"
    r"(?:лучш\w+ )?из\s*$|перебра\w*\s*$"
)
_N_EQUALS = re.compile(r"\bn\s*=\s*$")

_NUMBER = re.compile(
    r"(?<![\w.,])([-−]?)(\d+(?:[.,]\d+)*|\.\d+)(?:\s?(k|к|тыс\.?)(?!\w))?(\s?%|\s?percent\b|\s?процент\w*)?"
)

_BASIS_WORDS: tuple[tuple[Basis, str], ...] = (
    ("per_trade", r"per[ -]trade|trade[ -]level|of trade returns|на сделку|по сделкам"),
    ("annualised", r"annuali[sz]ed|annual|yearly|per year|p\.a\.|годов\w*|в год"),
    (
        "per_period",
        r"daily|hourly|weekly|monthly|per[ -](?:day|bar|hour|week|month)|"
        r"дневн\w*|часов\w*|недельн\w*|месячн\w*",
    ),
)
# Periods per year of a frequency word (crypto trades every day of the year).
_FREQUENCIES: tuple[tuple[str, float, str], ...] = (
    (r"hourly|per[ -]hour|часов\w*", 24 * 365, "hourly"),
    (r"daily|per[ -]day|дневн\w*", 365, "daily"),
    (r"weekly|per[ -]week|недельн\w*", 52, "weekly"),
    (r"monthly|per[ -]month|месячн\w*", 12, "monthly"),
)


@dataclass(frozen=True)
class Quantity:
    """A number of the question with the role it plays, as written and as a value."""

    role: str
    value: float
    text: str


@dataclass(frozen=True)
class ParsedQuestion:
    """What the interpreter recognised; `quantities` keeps the first value of each role."""

    quantities: dict[str, Quantity] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    basis: Basis | None = None
    periods_per_year: float | None = None
    frequency: str | None = None

    def value(self, role: str) -> float | None:
        found = self.quantities.get(role)
        return None if found is None else found.value

    @property
    def years(self) -> float | None:
        """Length of the track record in years, from years, months, weeks or days."""
        years = self.value("years")
        days = self.value("days")
        if years is None and days is not None:
            years = days / 365
        return years


def _word(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)")


_ALIAS_RES = tuple((_word(p), role) for p, role in _ALIASES) + tuple(
    (_word(f"{re.escape(key)}|{re.escape(key.replace('_', ' '))}"), key) for key in METRICS
)
_UNIT_RES = tuple((re.compile(rf"\s?-?\s?(?:{p})(?!\w)"), role, f) for p, role, f in _UNITS)
_BASIS_RES = tuple((basis, _word(p)) for basis, p in _BASIS_WORDS)
_FREQUENCY_RES = tuple((_word(p), ppy, name) for p, ppy, name in _FREQUENCIES)


def _mentions(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, role) metric mentions, longest first, then by position."""
    found = sorted(
        ((m.start(), m.end(), role) for rx, role in _ALIAS_RES for m in rx.finditer(text)),
        key=lambda s: (s[0] - s[1], s[0]),
    )
    kept: list[tuple[int, int, str]] = []
    for start, end, role in found:
        if all(end <= s or start >= e for s, e, _ in kept):
            kept.append((start, end, role))
    return sorted(kept)


def _to_float(sign: str, digits: str, thousands: str | None) -> float | None:
    if "," in digits and "." in digits:
        digits = digits.replace(",", "")
    elif "," in digits:
        # 1,000 is a thousand; 1,2 (Russian) is one point two.
        thousand = re.fullmatch(r"\d{1,3}(?:,\d{3})+", digits)
        digits = digits.replace(",", "" if thousand else ".")
    try:
        value = float(digits)
    except ValueError:
        return None
    value *= 1000 if thousands else 1
    return -value if sign else value


def _role_of(text: str, start: int, end: int, mentions: list[tuple[int, int, str]]) -> str | None:
    """The role of the number at text[start:end], from its unit or a metric next to it."""
    before = text[max(0, start - 40) : start]
    if _TRIALS_BEFORE.search(before):
        return "n_trials"
    if _N_EQUALS.search(before):
        return "n_trades" if re.search(r"trade|сдел", text) else "n_obs"
    preceding = [m for m in mentions if m[1] <= start]
    if preceding:
        gap = text[preceding[-1][1] : start]
        if len(gap) <= 40 and not re.search(r"[\d?;!]", gap) and len(gap.split()) <= 5:
            return preceding[-1][2]
    following = [m for m in mentions if m[0] >= end]
    if following:
        gap = text[end : following[0][0]]
        if len(gap) <= 16 and not re.search(r"[\d?;!,]", gap) and len(gap.split()) <= 2:
            return following[0][2]
    return None


def _quantities(text: str, mentions: list[tuple[int, int, str]]) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    for m in _NUMBER.finditer(text):
        sign, digits, thousands, percent = m.groups()
        value = _to_float(sign, digits, thousands)
        if value is None:
            continue
        role: str | None = None
        factor = 1.0
        if not percent:
            for rx, unit_role, unit_factor in _UNIT_RES:
                if rx.match(text, m.end()):
                    role, factor = unit_role, unit_factor
                    break
        if role is None:
            role = _role_of(text, m.start(), m.end(), mentions)
        if role is None or role in out:
            continue
        value *= factor
        if not math.isfinite(value) or abs(value) > _LARGEST or (role in _COUNTS and value <= 0):
            continue  # "0 trades", "-3 years" or 10**400 cannot be reasoned about
        if role in FRACTION_ROLES and (percent or abs(value) > 1):
            value /= 100
        out[role] = Quantity(role, value, m.group(0).strip())
    return out


def parse_question(question: str) -> ParsedQuestion:
    """Metrics named and numbers given in `question`, each number with its role."""
    text = question.lower().replace("ё", "е")
    mentions = _mentions(text)
    quantities = _quantities(text, mentions)
    basis = next((b for b, rx in _BASIS_RES if rx.search(text)), None)
    ppy, frequency = None, None
    minutes = quantities.get("timeframe_minutes")
    if minutes is not None and minutes.value > 0:
        ppy, frequency = 365 * 24 * 60 / minutes.value, f"{minutes.value:g}-minute bars"
    else:
        for rx, periods, name in _FREQUENCY_RES:
            if rx.search(text):
                ppy, frequency = periods, name
                break
    metrics = tuple(dict.fromkeys(role for _, _, role in mentions))
    return ParsedQuestion(quantities, metrics, basis, ppy, frequency)
