"""Task kinds and their typed inputs.

A task is what a caller wants (`analyze_backtest`, `code_review`, ...), not
which model answers it: the router picks the agent from the routing table.
Inputs are plain pydantic models; engine results arrive as the flat metrics
mapping of the engine (`total_return`, `sharpe`, ...), never as engine objects,
so this package imports nothing of ours.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from agents.errors import InvalidTaskError

__all__ = [
    "TASK_INPUTS",
    "AnalyzeBacktestInput",
    "AskInput",
    "CodeReviewInput",
    "CompareStrategiesInput",
    "ContextItem",
    "ExplainMetricInput",
    "IndicatorResearchInput",
    "MarketRegimeInput",
    "NamedMetrics",
    "RiskAdviceInput",
    "TaskInput",
    "TaskKind",
    "TestScenariosInput",
    "parse_task_input",
]

MetricValue = float | int | None


def _numeric_text(value: object) -> object:
    """Numbers sent as text stay numbers, as before; other text (an ISO time such as
    `equity_exhausted_bar_time`) is kept as text instead of failing validation."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


# A value of the engine's flat metrics mapping: a number, null, or (a few keys) text.
MetricEntry = Annotated[float | int | str | None, BeforeValidator(_numeric_text)]


class TaskKind(StrEnum):
    """Every kind of task the router knows."""

    ANALYZE_BACKTEST = "analyze_backtest"
    COMPARE_STRATEGIES = "compare_strategies"
    RISK_ADVICE = "risk_advice"
    INDICATOR_RESEARCH = "indicator_research"
    EXPLAIN_METRIC = "explain_metric"
    MARKET_REGIME = "market_regime"
    CODE_REVIEW = "code_review"
    TEST_SCENARIOS = "test_scenarios"
    ASK = "ask"


class ContextItem(BaseModel):
    """Output of an earlier pipeline step, handed on as untrusted content."""

    step: str
    agent: str
    text: str
    untrusted: bool = True
    sources: list[str] = Field(default_factory=list)


class TaskInput(BaseModel):
    """Fields shared by every task input."""

    # Pipelines pass one mapping to every step; each step keeps its own fields.
    model_config = ConfigDict(extra="ignore")

    context: list[ContextItem] = Field(
        default_factory=list, description="Earlier pipeline outputs (untrusted)."
    )


class AnalyzeBacktestInput(TaskInput):
    """A backtest's metrics mapping plus what the user will tolerate."""

    metrics: dict[str, MetricEntry]
    strategy: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    symbol: str | None = None
    timeframe: str | None = None
    max_drawdown_tolerance: float = Field(0.25, gt=0, le=1)
    min_trades: int = Field(30, ge=1)


class NamedMetrics(BaseModel):
    """One candidate strategy in a comparison."""

    name: str = Field(min_length=1)
    metrics: dict[str, MetricEntry]
    params: dict[str, Any] = Field(default_factory=dict)


class CompareStrategiesInput(TaskInput):
    """Two or more strategies' metrics to rank."""

    strategies: list[NamedMetrics] = Field(min_length=2)
    max_drawdown_tolerance: float = Field(0.25, gt=0, le=1)
    min_trades: int = Field(30, ge=1)


class RiskAdviceInput(TaskInput):
    """Metrics plus the account constraints the advice must respect."""

    metrics: dict[str, MetricEntry]
    account_equity: float | None = Field(None, gt=0)
    risk_per_trade: float = Field(0.01, gt=0, le=0.2)
    leverage: float = Field(1.0, ge=1, le=125)
    max_drawdown_tolerance: float = Field(0.25, gt=0, le=1)


class IndicatorResearchInput(TaskInput):
    """An indicator to research (EMA, RSI, ...) and an optional question."""

    indicator: str = Field(min_length=1)
    question: str | None = None


class ExplainMetricInput(TaskInput):
    """A metric key of the engine and optionally its value in a result."""

    metric: str = Field(min_length=1)
    value: MetricValue = None


class MarketRegimeInput(TaskInput):
    """Features of the market, or closes from which the analyst derives them.

    Known feature names: `sma_slope` (fractional change of the SMA per bar),
    `adx`, `efficiency_ratio` (0..1), `volatility_ann`, `volatility_percentile`
    (0..1 relative to the asset's own history).
    """

    features: dict[str, float] = Field(default_factory=dict)
    closes: list[float] | None = None
    periods_per_year: float = Field(365 * 24, gt=0)
    symbol: str | None = None


class CodeReviewInput(TaskInput):
    """Strategy source code to review."""

    code: str = Field(min_length=1)
    language: str = "python"


class TestScenariosInput(TaskInput):
    """What to stress: a strategy, its parameters, optionally metrics and code."""

    __test__ = False  # not a pytest test class despite the name

    strategy: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, MetricEntry] = Field(default_factory=dict)
    code: str | None = None


class AskInput(TaskInput):
    """A free-form question."""

    question: str = Field(min_length=1)


TASK_INPUTS: dict[TaskKind, type[TaskInput]] = {
    TaskKind.ANALYZE_BACKTEST: AnalyzeBacktestInput,
    TaskKind.COMPARE_STRATEGIES: CompareStrategiesInput,
    TaskKind.RISK_ADVICE: RiskAdviceInput,
    TaskKind.INDICATOR_RESEARCH: IndicatorResearchInput,
    TaskKind.EXPLAIN_METRIC: ExplainMetricInput,
    TaskKind.MARKET_REGIME: MarketRegimeInput,
    TaskKind.CODE_REVIEW: CodeReviewInput,
    TaskKind.TEST_SCENARIOS: TestScenariosInput,
    TaskKind.ASK: AskInput,
}


def parse_task_input(kind: TaskKind | str, data: TaskInput | dict[str, Any]) -> TaskInput:
    """Validate `data` as the input of `kind`; raise InvalidTaskError naming the bad field."""
    try:
        task_kind = TaskKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in TaskKind)
        raise InvalidTaskError(f"unknown task kind {kind!r}; known kinds: {known}") from None
    model = TASK_INPUTS[task_kind]
    if isinstance(data, model):
        return data
    if isinstance(data, TaskInput):
        data = data.model_dump()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(input)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidTaskError(f"invalid input for task {task_kind.value}: {problems}") from None
