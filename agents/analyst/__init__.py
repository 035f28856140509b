"""The offline analyst: deterministic, rule-based answers to every task kind.

Same input, same output; no network, no randomness. It is the last agent of
every chain and the only one when no key is configured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.analyst.ask import answer_question
from agents.analyst.backtest import analyze_backtest, find_red_flags, risk_advice
from agents.analyst.code_review import review_code
from agents.analyst.compare import compare_strategies
from agents.analyst.indicators_doc import INDICATORS, find_indicator
from agents.analyst.metrics_doc import METRICS, assess_metric
from agents.analyst.regime import classify_regime
from agents.analyst.scenarios import propose_scenarios
from agents.outputs import IndicatorResearch, MetricExplanation, TaskOutput
from agents.tasks import ExplainMetricInput, IndicatorResearchInput, TaskInput, TaskKind

__all__ = [
    "INDICATORS",
    "METRICS",
    "analyze",
    "explain_metric",
    "find_red_flags",
    "research_indicator",
]


def explain_metric(task: ExplainMetricInput) -> MetricExplanation:
    """Formula, meaning and ranges of an engine metric key, and an assessment of its value."""
    key = task.metric.strip().lower().replace(" ", "_").replace("-", "_")
    doc = METRICS.get(key)
    if doc is None:
        close = sorted(k for k in METRICS if key in k or k in key)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(METRICS))
        return MetricExplanation(
            summary=f"Unknown metric {task.metric!r}.{hint}",
            metric=task.metric,
            formula="",
            meaning=f"Not a metric of the engine. Known keys: {known}.",
            good="",
            bad="",
        )
    assessment = assess_metric(key, None if task.value is None else float(task.value))
    summary = f"{key}: {doc.meaning}" + (f" {assessment}." if assessment else "")
    return MetricExplanation(
        summary=summary,
        metric=key,
        formula=doc.formula,
        meaning=doc.meaning,
        good=doc.good,
        bad=doc.bad,
        higher_is_better=doc.higher_is_better,
        assessment=assessment,
    )


def research_indicator(task: IndicatorResearchInput) -> IndicatorResearch:
    """The built-in indicator's formula, usual parameters and pitfalls."""
    doc = find_indicator(task.indicator)
    if doc is None:
        known = ", ".join(d.name for d in INDICATORS.values())
        return IndicatorResearch(
            summary=f"{task.indicator} is not a built-in indicator (built-in: {known}).",
            indicator=task.indicator,
            formula="unknown offline",
            pitfalls=[
                "Offline, only the built-in indicators are documented; configure Perplexity for research."
            ],
        )
    return IndicatorResearch(
        summary=f"{doc.name}: {doc.interpretation}",
        indicator=doc.name,
        formula=doc.formula,
        usual_params=dict(doc.usual_params),
        interpretation=doc.interpretation,
        pitfalls=list(doc.pitfalls),
    )


_HANDLERS: dict[TaskKind, Callable[[Any], TaskOutput]] = {
    TaskKind.ANALYZE_BACKTEST: analyze_backtest,
    TaskKind.COMPARE_STRATEGIES: compare_strategies,
    TaskKind.RISK_ADVICE: risk_advice,
    TaskKind.INDICATOR_RESEARCH: research_indicator,
    TaskKind.EXPLAIN_METRIC: explain_metric,
    TaskKind.MARKET_REGIME: classify_regime,
    TaskKind.CODE_REVIEW: review_code,
    TaskKind.TEST_SCENARIOS: propose_scenarios,
    TaskKind.ASK: answer_question,
}


def analyze(kind: TaskKind, task: TaskInput) -> TaskOutput:
    """Run the offline analyst for `kind` on an already validated input."""
    return _HANDLERS[kind](task)
