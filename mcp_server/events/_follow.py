"""Async readers over the sync bus: `follow` (events of one job, resumable) and `follow_sse`
(the same as server-sent-event text, with keep-alive comments, for
`GET /api/v1/jobs/{id}/events`)."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator

import anyio

from mcp_server.events._contract import EventBus, JobEvent
from mcp_server.events._ids import parse_id

__all__ = ["follow", "follow_sse", "format_sse"]


async def _blocks(
    bus: EventBus, job_id: str | None, after: str, block_s: float
) -> AsyncIterator[list[JobEvent]]:
    """Batches of events after `after`, an empty batch each `block_s` without any."""
    parse_id(after)  # a bad resume id fails here, before the stream starts
    # Each follower blocks a thread of its own: borrowing the shared default limiter would
    # let a few idle SSE clients starve the store and engine calls that use it.
    limiter = anyio.CapacityLimiter(1)
    while True:
        read = functools.partial(bus.read, job_id, after, block_s=block_s, count=100)
        batch = await anyio.to_thread.run_sync(read, abandon_on_cancel=True, limiter=limiter)
        if batch:
            after = batch[-1].id
        yield batch


async def follow(
    bus: EventBus, job_id: str, after: str = "0", *, block_s: float = 5.0
) -> AsyncIterator[JobEvent]:
    """Events of `job_id` after id `after` (`"0"`: all kept), in order, waiting for new
    ones, until a terminal one (`succeeded`, `failed`, `cancelled`) has been yielded.
    Resume after a disconnect by passing the last id received."""
    async for batch in _blocks(bus, job_id, after, block_s):
        for event in batch:
            yield event
            if event.terminal:
                return


def format_sse(event: JobEvent) -> str:
    """One server-sent event: the id (for `Last-Event-ID`), the kind as the event name, and
    the whole event as JSON data."""
    return f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(event.model_dump(mode='json'))}\n\n"


async def follow_sse(
    bus: EventBus, job_id: str, last_event_id: str | None = None, *, heartbeat_s: float = 15.0
) -> AsyncIterator[str]:
    """`follow` as SSE text, resuming after `last_event_id` (the header a reconnecting
    browser sends). A `: keep-alive` comment goes out after each quiet `heartbeat_s`, so
    proxies keep the connection and a vanished client is noticed."""
    async for batch in _blocks(bus, job_id, last_event_id or "0", heartbeat_s):
        if not batch:
            yield ": keep-alive\n\n"
        for event in batch:
            yield format_sse(event)
            if event.terminal:
                return
