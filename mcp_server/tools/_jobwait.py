"""How a long tool runs as a job: submit it, then either answer at once with the job id
(`wait=false`) or follow the job's events, relaying its progress as MCP progress
notifications, and cancel the job when the MCP call is cancelled."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

import market as M
from mcp_server.backfill import BackfillRequest
from mcp_server.events import follow
from mcp_server.tools._runtime import progress, tool_result
from mcp_server.tools._ticket import JobTicket, Wait
from ohlcv import Interval

if TYPE_CHECKING:  # the jobs package imports the tools' argument models
    from mcp_server.jobs import JobRecord, JobService

__all__ = ["JobTicket", "Wait", "backfill_of", "job_result", "run_as_job", "ticket"]

log = logging.getLogger("mcp_server.tools")
_RELAY_EVERY_S = 0.2  # as the in-process tools did: a notification per tick, not per event


def backfill_of(key: M.DatasetKey, lo: int, hi: int) -> BackfillRequest:
    """The backfill job of fetch_history's window: candles opened in `lo`..`hi` (ms),
    with enough pages that the window is never truncated."""
    step = Interval.parse(key.interval).ms
    pages = min(100_000, (hi - lo) // (1000 * step) + 2)
    return BackfillRequest.model_validate({
        "symbol": key.symbol, "interval": key.interval, "category": key.category,
        "start_at_iso": datetime.fromtimestamp(lo / 1000, UTC),
        "end_at_iso": datetime.fromtimestamp(max(hi, lo + 1) / 1000, UTC),
        "page_limit": 1000, "max_pages": pages, "mode": "async",
    })  # fmt: skip


def ticket(record: JobRecord) -> CallToolResult:
    return tool_result(
        JobTicket(
            job_id=record.id,
            state=record.state,
            hint=f"get_job(job_id, include_result=true) or the resource job://{record.id}",
        ).model_dump(mode="json")
    )


async def run_as_job(
    ctx: Context,
    jobs: JobService,
    submit: Callable[[], JobRecord],
    wait: bool,
    answer: Callable[[dict[str, Any]], Any],
) -> Any:
    """Submit the job; without `wait` its ticket, else `answer(result)` (awaited when it
    is a coroutine) once it succeeded."""
    record = await anyio.to_thread.run_sync(submit)
    if not wait:
        return ticket(record)
    try:
        await _relay(ctx, jobs, record)
    except anyio.get_cancelled_exc_class():
        # the client gave up on the call: the job must not keep the workers busy
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(jobs.cancel, record.id)
            except Exception:  # e.g. the broker went away: the call still ends as cancelled
                log.warning("could not cancel job %s after its call was cancelled", record.id,
                            exc_info=True)  # fmt: skip
        raise
    # a failed or cancelled job raises here, with what went wrong
    out = answer(await anyio.to_thread.run_sync(job_result, jobs, record.id))
    return await out if inspect.isawaitable(out) else out


def job_result(jobs: JobService, job_id: str) -> dict[str, Any]:
    """A succeeded job's result, its `elapsed_s` the job's run time (the stored one
    times only the merge of its chunks)."""
    payload = jobs.result(job_id)
    record = jobs.get(job_id)
    summary = payload.get("summary")
    if isinstance(summary, dict) and record.started is not None and record.finished is not None:
        summary["elapsed_s"] = round(record.finished - record.started, 4)
    return payload


async def _relay(ctx: Context, jobs: JobService, record: JobRecord) -> None:
    """Follow the job to its end, sending its progress at most every `_RELAY_EVERY_S`."""
    last = 0.0
    pending: tuple[float, float] | None = None
    async for event in follow(jobs.bus, record.id, block_s=_RELAY_EVERY_S):
        if event.kind == "progress":
            pending = (float(event.data.get("done", 0)), float(event.data.get("total", 0)))
        if pending is not None and (event.terminal or time.monotonic() - last >= _RELAY_EVERY_S):
            done, total = pending
            await progress(ctx, done, max(total, 1.0), record.kind)
            last, pending = time.monotonic(), None
