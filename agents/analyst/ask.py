"""Free-form questions answered from the analyst's own knowledge tables."""

from __future__ import annotations

import re

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


def answer_question(task: AskInput) -> AskAnswer:
    """Answer from metric and indicator docs; summarise earlier pipeline context if given."""
    q = task.question.lower()
    parts: list[str] = []
    topics: list[str] = []
    for key in sorted(METRICS, key=len, reverse=True):
        spaced = key.replace("_", " ")
        if re.search(rf"\b({re.escape(key)}|{re.escape(spaced)})\b", q) and not any(
            key in t for t in topics
        ):
            doc = METRICS[key]
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
    answer = "\n".join(parts)
    return AskAnswer(summary=parts[0][:200], answer=answer, topics=topics)
