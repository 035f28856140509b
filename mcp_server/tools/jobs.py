"""Toolset `jobs`: start a grid or random search as a job on the workers, then follow,
list and cancel jobs (also those started over REST or the CLI). Without a broker the
jobs run on the server's embedded worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from mcp_server.candles import DataSpec
from mcp_server.context import AppContext
from mcp_server.tools._args import SearchSpec
from mcp_server.tools._jobwait import job_result
from mcp_server.tools._runtime import READ_ONLY, app, tool
from mcp_server.tools.analysis import scenario_report
from mcp_server.tools.backtest import compare_answer
from mcp_server.tools.optimize import job_answer

if TYPE_CHECKING:  # the jobs package imports the tools' argument models
    from mcp_server.jobs import JobRecord

__all__ = ["cancel_job", "get_job", "list_jobs", "start_search_job"]

JobId = Annotated[
    str, Field(pattern=r"^[0-9a-f]{32}$", description="Job id (start_search_job, list_jobs)")
]
_STARTS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                          open_world_hint=False)  # fmt: skip
_CANCELS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                           open_world_hint=False)  # fmt: skip


class JobInfo(BaseModel):
    """A job: state (queued, running, succeeded, failed, cancelled) and progress."""

    id: str
    kind: str
    state: str
    done: int
    total: int
    chunks: int
    error: str | None = None
    result: dict[str, Any] | None = Field(
        None, description="With include_result, once succeeded: what the tool would answer"
    )

    @classmethod
    def of(cls, record: JobRecord, result: dict[str, Any] | None = None) -> JobInfo:
        return cls(**record.model_dump(include=set(cls.model_fields) - {"result"}), result=result)


class JobList(BaseModel):
    jobs: list[JobInfo]


@tool("Start search job", _STARTS)
async def start_search_job(
    ctx: Context,
    search: SearchSpec,
    method: Literal["grid", "random"] = "grid",
    n_samples: Annotated[int, Field(ge=1, le=100_000, description="Random: combinations")] = 100,
    data: DataSpec = DataSpec(),
) -> JobInfo:
    """Queue a grid or random search split into chunks for the workers and return its id
    at once; follow it with get_job (the merged table equals optimize_grid's)."""
    context = app(ctx)
    loaded = await context.candles.load(data)
    record = context.jobs.submit_search(loaded, search, method=method, n_samples=n_samples)
    return JobInfo.of(record)


@tool("Get job", READ_ONLY)
async def get_job(
    ctx: Context,
    job_id: JobId,
    include_result: Annotated[bool, Field(description="Add the result (large for grids)")] = False,
) -> JobInfo:
    """A job's state and progress; with include_result, its result once succeeded."""
    context = app(ctx)
    record = context.jobs.get(job_id)
    result = None
    if include_result and record.state == "succeeded":
        # in the shape the synchronous tool (optimize_*, walk_forward) answers
        payload = await anyio.to_thread.run_sync(job_result, context.jobs, job_id)
        result = await _answer(context, record, payload)
    return JobInfo.of(record, result)


@tool("Cancel job", _CANCELS)
async def cancel_job(ctx: Context, job_id: JobId) -> JobInfo:
    """Cancel a job: running chunks stop within about a second, queued ones never run."""
    return JobInfo.of(app(ctx).jobs.cancel(job_id))


@tool("List jobs", READ_ONLY)
async def list_jobs(
    ctx: Context, limit: Annotated[int, Field(ge=1, le=200, description="Newest first")] = 20
) -> JobList:
    """The newest jobs (any surface started them) with their state and progress."""
    return JobList(jobs=[JobInfo.of(r) for r in app(ctx).jobs.recent(limit)])


async def _answer(
    context: AppContext, record: JobRecord, payload: dict[str, Any]
) -> dict[str, Any]:
    """A finished job's result as the tool that started it answers."""
    if record.kind == "scenarios":
        report = await scenario_report(context, record.request, payload)
        return report.model_dump(mode="json")
    if record.kind == "compare":
        return (await compare_answer(context, record.request, payload)).model_dump(mode="json")
    return await job_answer(context, record.kind, record.request, payload, record.id)
