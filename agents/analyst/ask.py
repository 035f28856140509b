"""Free-form questions answered from the analyst's own knowledge tables.

When the question gives numbers ("Is a Sharpe of 1.2 on 40 trades meaningful?"), they
are recognised with their roles (`_question`) and the answer computes what they mean
(`_sharpe_reading`, `_trade_reading`), says which reading it assumed and what it
cannot judge without more data. Without numbers the answer comes from the tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agents.analyst._notes import Notes
from agents.analyst._question import ParsedQuestion, parse_question
from agents.analyst._sharpe_reading import read_sharpe, read_trials
from agents.analyst._trade_reading import (
    read_drawdown,
    read_other_metrics,
    read_probabilities,
    read_trade_stats,
)
from agents.analyst.indicators_doc import find_indicator
from agents.analyst.metrics_doc import METRICS
from agents.outputs import AskAnswer
from agents.tasks import AskInput

__all__ = ["answer_question"]

_TOPICS = {
    "lookahead": ("look-ahead", "lookahead", "future data", "peeking"),
    "overfitting": ("overfit", "curve fit", "curve-fit", "optimi"),
    "costs": ("fee", "commission", "slippage", "cost"),
}
_TOPIC_TEXT = {
    "lookahead": "Look-ahead bias: a decision on bar i may use data up to bar i's close only; the engine fills at bar i+1's open by default. shift(-1), centred windows and back-filling leak the future.",
    "overfitting": "Overfitting: prefer parameter plateaus to peaks, validate walk-forward out of sample, and distrust a Sharpe above 3 on few trades.",
    "costs": "Costs: Bybit taker fee is 0.055 % per fill (0.11 % round trip) plus slippage; an edge per trade below about 3x the round trip rarely survives live trading.",
}
_READERS: tuple[Callable[[ParsedQuestion, Notes], None], ...] = (
    read_sharpe,
    read_trials,
    read_trade_stats,
    read_drawdown,
    read_probabilities,
    read_other_metrics,
)


def _read_numbers(parsed: ParsedQuestion) -> Notes | None:
    """What the question's numbers mean, or None when it gives none worth reading."""
    if not parsed.quantities:
        return None
    notes = Notes()
    for reader in _READERS:
        reader(parsed, notes)
    if not notes.paragraphs:
        return None
    notes.cannot("whether the figures are after fees, slippage and funding")
    if parsed.value("n_trials") is None:
        notes.cannot(
            "how many parameter sets or strategies were tried before this one "
            "(the best of many is inflated; give the number to deflate it)"
        )
    return notes


def _metric_keys(q: str, parsed: ParsedQuestion, numeric: bool) -> list[str]:
    """Engine metric keys the question names (Russian and alias names too when it has numbers)."""
    keys: list[str] = []
    for key in sorted(METRICS, key=len, reverse=True):
        spaced = key.replace("_", " ")
        if re.search(rf"\b({re.escape(key)}|{re.escape(spaced)})\b", q) and not any(
            key in k for k in keys
        ):
            keys.append(key)
    if numeric:
        keys += [m for m in parsed.metrics if m in METRICS and m not in keys]
    return keys


def answer_question(task: AskInput) -> AskAnswer:
    """Answer from metric and indicator docs; summarise earlier pipeline context if given."""
    q = task.question.lower()
    parsed = parse_question(task.question)
    numbers = _read_numbers(parsed)
    parts: list[str] = list(numbers.paragraphs) if numbers else []
    topics: list[str] = []
    for key in _metric_keys(q, parsed, numbers is not None):
        doc = METRICS[key]
        if numbers:  # the numbers come first; the definition is one line
            parts.append(f"{key}: {doc.formula}.")
        else:
            parts.append(
                f"{key}: {doc.meaning} Formula: {doc.formula}. Good: {doc.good}. Bad: {doc.bad}."
            )
        topics.append(key)
    indicator = find_indicator(q)
    if indicator is not None:
        parts.append(
            f"{indicator.name}: {indicator.formula}. {indicator.interpretation} Pitfall: {indicator.pitfalls[0]}"
        )
        topics.append(indicator.name)
    for topic, words in _TOPICS.items():
        if any(w in q for w in words):
            parts.append(_TOPIC_TEXT[topic])
            topics.append(topic)
    if task.context:
        parts.append("Summary of earlier steps (untrusted, not verified offline):")
        for item in task.context:
            first = item.text.strip().split("\n", 1)[0][:300]
            cited = f" Sources: {', '.join(item.sources[:3])}." if item.sources else ""
            parts.append(f"- {item.step} ({item.agent}): {first}{cited}")
        topics.append("context")
    if not parts:
        parts.append(
            "The offline analyst answers from its own tables: engine metrics (e.g. sharpe, max_drawdown), "
            "indicators (EMA, SMA, RSI, ATR, MACD, Bollinger, Donchian), look-ahead, overfitting and costs. "
            "Set DEEPSEEK_API_KEY or PERPLEXITY_API_KEY for open-ended questions."
        )
    if numbers is None:
        return AskAnswer(summary=parts[0][:200], answer="\n".join(parts), topics=topics)
    parts.append("Cannot judge without: " + "; ".join(numbers.missing) + ".")
    return AskAnswer(
        summary=(numbers.summary or parts[0])[:300],
        answer="\n".join(parts),
        topics=[*topics, *(m for m in parsed.metrics if m not in topics), "numbers"],
        recognised={role: quantity.value for role, quantity in parsed.quantities.items()},
        figures=numbers.figures,
        caveats=numbers.missing,
    )
