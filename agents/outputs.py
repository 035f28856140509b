"""Typed structured outputs, one model per task kind.

Remote agents are asked for JSON matching these schemas; the local analyst
builds them directly. An answer that does not validate is treated as a bad
response (retried, then another agent), never passed on half-parsed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.tasks import TaskKind

__all__ = [
    "TASK_OUTPUTS",
    "AskAnswer",
    "BacktestAnalysis",
    "CodeFinding",
    "CodeReview",
    "Direction",
    "Figure",
    "IndicatorResearch",
    "MarketRegime",
    "MetricExplanation",
    "RankedStrategy",
    "RedFlag",
    "RiskAdvice",
    "Scenario",
    "Severity",
    "StrategyComparison",
    "TaskOutput",
    "TestScenarios",
    "Verdict",
]

Severity = Literal["info", "warning", "critical"]
Verdict = Literal["promising", "needs_work", "unreliable", "losing"]
Direction = Literal["up", "down", "flat"]


class TaskOutput(BaseModel):
    """Base of every structured output: a short human summary."""

    summary: str = ""


class RedFlag(BaseModel):
    """One problem found in a metrics mapping, with the threshold it broke."""

    code: str
    severity: Severity
    metric: str
    value: float | None = None
    threshold: float | None = None
    message: str


class BacktestAnalysis(TaskOutput):
    """Verdict on one backtest."""

    verdict: Verdict
    red_flags: list[RedFlag] = Field(default_factory=list)
    strengths: list[str] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)


class RankedStrategy(BaseModel):
    """A strategy's place in a comparison and why."""

    name: str
    rank: int
    score: float
    reasons: list[str] = Field(default_factory=list)
    red_flags: list[RedFlag] = Field(default_factory=list)


class StrategyComparison(TaskOutput):
    """Strategies ranked best first by risk-adjusted metrics."""

    ranking: list[RankedStrategy]
    best: str


class RiskAdvice(TaskOutput):
    """Position sizing and risk limits suited to the metrics."""

    position_fraction: float = Field(ge=0, le=1)
    max_leverage: float = Field(ge=0)
    stop_loss_hint: float | None = None
    advice: list[str] = Field(default_factory=list)
    red_flags: list[RedFlag] = Field(default_factory=list)


class IndicatorResearch(TaskOutput):
    """What an indicator computes and how to use it."""

    indicator: str
    formula: str
    usual_params: dict[str, Any] = Field(default_factory=dict)
    interpretation: str = ""
    pitfalls: list[str] = Field(default_factory=list)


class MetricExplanation(TaskOutput):
    """An engine metric: formula, meaning, good and bad ranges."""

    metric: str
    formula: str
    meaning: str
    good: str
    bad: str
    higher_is_better: bool | None = None
    assessment: str | None = None


class MarketRegime(TaskOutput):
    """Trend, range or high volatility, with the evidence."""

    regime: Literal["trend", "range", "high_volatility"]
    direction: Direction = "flat"
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(default_factory=list)
    features: dict[str, float] = Field(default_factory=dict)


class CodeFinding(BaseModel):
    """One issue found in strategy code."""

    rule: str
    severity: Severity
    line: int | None = None
    message: str
    fix: str = ""


class CodeReview(TaskOutput):
    """Findings of a review; `passed` is false when any is critical."""

    passed: bool
    findings: list[CodeFinding] = Field(default_factory=list)


class Scenario(BaseModel):
    """One stress scenario with the parameters to run it."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    expectation: str = ""


class TestScenarios(TaskOutput):
    """Stress scenarios to run against a strategy."""

    __test__ = False  # not a pytest test class despite the name

    scenarios: list[Scenario]


class Figure(BaseModel):
    """A number an answer computed, with the reading of the question it rests on."""

    name: str
    value: float
    reading: str = ""


class AskAnswer(TaskOutput):
    """A free-form answer; `topics` names what the answer drew on. When the question
    gives numbers: `recognised` holds them by role (sharpe, n_trades, ...), `figures`
    what was computed from them, `caveats` what cannot be judged without more data."""

    answer: str
    topics: list[str] = Field(default_factory=list)
    recognised: dict[str, float] = Field(default_factory=dict)
    figures: list[Figure] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list)


TASK_OUTPUTS: dict[TaskKind, type[TaskOutput]] = {
    TaskKind.ANALYZE_BACKTEST: BacktestAnalysis,
    TaskKind.COMPARE_STRATEGIES: StrategyComparison,
    TaskKind.RISK_ADVICE: RiskAdvice,
    TaskKind.INDICATOR_RESEARCH: IndicatorResearch,
    TaskKind.EXPLAIN_METRIC: MetricExplanation,
    TaskKind.MARKET_REGIME: MarketRegime,
    TaskKind.CODE_REVIEW: CodeReview,
    TaskKind.TEST_SCENARIOS: TestScenarios,
    TaskKind.ASK: AskAnswer,
}
