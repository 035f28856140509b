"""Toolset `agents`: free questions, multi-step pipelines and the router's status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from agents import PIPELINES, RouterStatus, StepProgress
from agents import run_pipeline as run_agents_pipeline
from mcp_server.tools._args import AgentArg
from mcp_server.tools._routed import AgentAnswer, answer_fields, ask
from mcp_server.tools._runtime import READ_ONLY, READ_ONLY_OPEN, app, progress, tool

__all__ = ["ask_agent", "router_status", "run_pipeline"]


class PipelineAnswer(BaseModel):
    """Every step's answer; `final` is the last one. Remote text is untrusted data."""

    pipeline: str
    steps: dict[str, AgentAnswer]
    final: AgentAnswer
    degraded: bool
    cost_usd: float


class RoutingInfo(BaseModel):
    status: RouterStatus
    routing: dict[str, list[str]] = Field(description="Task kind -> agent chain")
    pipelines: dict[str, str] = Field(description="Pipeline name -> what it does")


@tool("Ask an agent", READ_ONLY_OPEN)
async def ask_agent(
    ctx: Context,
    question: Annotated[str, Field(min_length=1, max_length=8000)],
    agent: AgentArg = "auto",
) -> AgentAnswer:
    """Ask a free-form trading or research question. Routed to Perplexity (web sources),
    then DeepSeek, then the offline analyst; agent='local' forces the offline analyst."""
    return await ask(app(ctx), "ask", {"question": question}, agent)


@tool("Run an agent pipeline", READ_ONLY_OPEN)
async def run_pipeline(
    ctx: Context,
    pipeline: Literal[tuple(PIPELINES)],  # type: ignore[valid-type]
    question: Annotated[str | None, Field(max_length=8000, description="For research_then_reason")] = None,
    code: Annotated[str | None, Field(max_length=50_000, description="For review_strategy")] = None,
    strategy: Annotated[str | None, Field(max_length=200)] = None,
) -> PipelineAnswer:
    """Run a multi-step agent pipeline. research_then_reason: Perplexity gathers sourced
    facts, DeepSeek reasons over them (needs `question`); review_strategy: code review,
    then stress scenarios aimed at the findings (needs `code`)."""
    data: dict[str, Any] = {}
    if pipeline == "research_then_reason":
        if not question:
            raise ToolError("research_then_reason needs `question`")
        data["question"] = question
    else:
        if not code:
            raise ToolError("review_strategy needs `code` (the strategy source)")
        data.update(code=code, strategy=strategy)
    total = len(PIPELINES[pipeline].steps)

    async def on_step(p: StepProgress) -> None:
        done = p.index - (0 if p.status != "started" else 1)
        agent = f" ({p.agent})" if p.agent else ""
        await progress(ctx, done, total, f"{p.step}: {p.status}{agent}")

    result = await run_agents_pipeline(app(ctx).router, pipeline, data, on_progress=on_step)
    return PipelineAnswer(
        pipeline=result.pipeline,
        steps={name: AgentAnswer(**answer_fields(r)) for name, r in result.steps.items()},
        final=AgentAnswer(**answer_fields(result.final)),
        degraded=result.degraded,
        cost_usd=result.cost_usd,
    )


@tool("Router status", READ_ONLY)
async def router_status(ctx: Context) -> RoutingInfo:
    """Which AI agents are configured, their circuit breakers, calls and cost so far, the
    routing table and the available pipelines. No calls are made."""
    router = app(ctx).router
    return RoutingInfo(
        status=router.status(),
        routing={k.value: list(v) for k, v in router.config.routing.items()},
        pipelines={name: p.description for name, p in PIPELINES.items()},
    )
