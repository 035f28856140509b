"""Multi-step pipelines described as data.

A pipeline is a list of steps; each step names a task kind and its own agent
chain. Every step receives the pipeline's input mapping (each task input keeps
the fields it knows) plus the earlier steps' answers as untrusted context.
Progress goes to a caller-supplied callback (sync or async) per step.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.errors import ConfigError
from agents.result import AgentResult
from agents.router import MCPRouter
from agents.tasks import ContextItem, TaskKind

__all__ = [
    "PIPELINES",
    "Pipeline",
    "PipelineResult",
    "ProgressCallback",
    "Step",
    "StepProgress",
    "run_pipeline",
]


@dataclass(frozen=True)
class Step:
    """One step: a task kind, its chain (None = the routing table's), fixed input fields."""

    name: str
    kind: TaskKind
    chain: tuple[str, ...] | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    """A named sequence of steps."""

    name: str
    description: str
    steps: tuple[Step, ...]


class StepProgress(BaseModel):
    """Reported to the progress callback when a step starts, finishes or fails."""

    pipeline: str
    index: int
    total: int
    step: str
    kind: str
    status: Literal["started", "finished", "failed"]
    agent: str | None = None
    degraded: bool = False
    error: str | None = None


class PipelineResult(BaseModel):
    """Every step's result; `final` is the last step's."""

    pipeline: str
    steps: dict[str, AgentResult] = Field(default_factory=dict)
    final: AgentResult
    degraded: bool
    cost_usd: float


ProgressCallback = Callable[[StepProgress], Awaitable[None] | None]

PIPELINES: dict[str, Pipeline] = {
    "research_then_reason": Pipeline(
        name="research_then_reason",
        description="Perplexity gathers sourced facts, DeepSeek reasons over them; "
        "the local analyst answers (and summarises what it has) when both fail.",
        steps=(
            Step("research", TaskKind.ASK, ("perplexity",)),
            Step("reason", TaskKind.ASK, ("deepseek",)),
        ),
    ),
    "review_strategy": Pipeline(
        name="review_strategy",
        description="Code review of a strategy, then stress scenarios aimed at what the review found.",
        steps=(
            Step("review", TaskKind.CODE_REVIEW, ("deepseek",)),
            Step("scenarios", TaskKind.TEST_SCENARIOS, ("deepseek",)),
        ),
    ),
}


async def _report(callback: ProgressCallback | None, progress: StepProgress) -> None:
    if callback is None:
        return
    outcome = callback(progress)
    if inspect.isawaitable(outcome):
        await outcome


async def run_pipeline(
    router: MCPRouter,
    pipeline: Pipeline | str,
    data: Mapping[str, Any],
    *,
    on_progress: ProgressCallback | None = None,
) -> PipelineResult:
    """Run the steps in order; a step's error is reported as `failed` and re-raised."""
    if isinstance(pipeline, str):
        if pipeline not in PIPELINES:
            raise ConfigError(
                f"unknown pipeline {pipeline!r}; known: {', '.join(sorted(PIPELINES))}"
            )
        pipeline = PIPELINES[pipeline]
    results: dict[str, AgentResult] = {}
    context: list[ContextItem] = []
    total = len(pipeline.steps)
    for index, step in enumerate(pipeline.steps, start=1):
        started = StepProgress(
            pipeline=pipeline.name,
            index=index,
            total=total,
            step=step.name,
            kind=step.kind.value,
            status="started",
        )
        await _report(on_progress, started)
        task = {**data, **step.overrides, "context": [c.model_dump() for c in context]}
        try:
            result = await router.run(step.kind, task, chain=step.chain)
        except Exception as exc:
            failed = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            await _report(on_progress, started.model_copy(update=failed))
            raise
        results[step.name] = result
        context.append(
            ContextItem(
                step=step.name,
                agent=result.agent,
                text=result.text,
                untrusted=result.untrusted,
                sources=[s.url for s in result.sources],
            )
        )
        done = {"status": "finished", "agent": result.agent, "degraded": result.degraded}
        await _report(on_progress, started.model_copy(update=done))
    final = results[pipeline.steps[-1].name]
    return PipelineResult(
        pipeline=pipeline.name,
        steps=results,
        final=final,
        degraded=any(r.degraded for r in results.values()),
        cost_usd=sum(r.cost_usd for r in results.values()),
    )
