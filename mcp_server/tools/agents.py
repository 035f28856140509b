"""Toolset `agents`: free questions, multi-step pipelines and the router's status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from agents import PIPELINES, RouterStatus, StepProgress, run_pipeline
from mcp_server.state import AppState
from mcp_server.tools._common import READ_ONLY, READ_ONLY_OPEN, instrument, progress, tool_error
from mcp_server.tools.analysis import AgentAnswer, AgentArg, answer_model, routed

__all__ = ["register"]


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


def register(server: MCPServer[Any], state: AppState) -> None:
    """Add the agents tools to `server`."""

    @server.tool(title="Ask an agent", annotations=READ_ONLY_OPEN)
    @instrument(state, "ask_agent")
    async def ask_agent(
        question: Annotated[str, Field(min_length=1, max_length=8000)],
        agent: AgentArg = "auto",
    ) -> AgentAnswer:
        """Ask a free-form trading or research question. Routed to Perplexity (web sources),
        then DeepSeek, then the offline analyst; agent='local' forces the offline analyst."""
        return AgentAnswer(
            **answer_model(await routed(state, "ask", {"question": question}, agent))
        )

    @server.tool(name="run_pipeline", title="Run an agent pipeline", annotations=READ_ONLY_OPEN)
    @instrument(state, "run_pipeline")
    async def run_pipeline_tool(
        pipeline: Literal[tuple(PIPELINES)],  # type: ignore[valid-type]
        question: Annotated[
            str | None, Field(max_length=8000, description="For research_then_reason")
        ] = None,
        code: Annotated[
            str | None, Field(max_length=50_000, description="For review_strategy")
        ] = None,
        strategy: Annotated[str | None, Field(max_length=200)] = None,
        ctx: Context | None = None,
    ) -> PipelineAnswer:
        """Run a multi-step agent pipeline, reporting progress per step.

        research_then_reason: Perplexity gathers sourced facts, DeepSeek reasons over them
        (needs `question`). review_strategy: code review, then stress scenarios aimed at the
        findings (needs `code`). The offline analyst answers when remote agents are unavailable.
        """
        data: dict[str, Any] = {}
        if pipeline == "research_then_reason":
            if not question:
                raise tool_error("research_then_reason needs `question`")
            data["question"] = question
        else:
            if not code:
                raise tool_error("review_strategy needs `code` (the strategy source)")
            data.update(code=code, strategy=strategy)
        total = len(PIPELINES[pipeline].steps)

        async def on_step(p: StepProgress) -> None:
            done = p.index - (0 if p.status != "started" else 1)
            await progress(
                ctx, done, total, f"{p.step}: {p.status}" + (f" ({p.agent})" if p.agent else "")
            )

        result = await run_pipeline(state.router, pipeline, data, on_progress=on_step)
        steps = {name: AgentAnswer(**answer_model(r)) for name, r in result.steps.items()}
        return PipelineAnswer(
            pipeline=result.pipeline,
            steps=steps,
            final=AgentAnswer(**answer_model(result.final)),
            degraded=result.degraded,
            cost_usd=result.cost_usd,
        )

    @server.tool(title="Router status", annotations=READ_ONLY)
    @instrument(state, "router_status")
    async def router_status() -> RoutingInfo:
        """Which AI agents are configured, their circuit breakers, calls and cost so far, the
        routing table and the available pipelines. No calls are made."""
        router = state.router
        return RoutingInfo(
            status=router.status(),
            routing={k.value: list(v) for k, v in router.config.routing.items()},
            pipelines={name: p.description for name, p in PIPELINES.items()},
        )
