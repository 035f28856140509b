"""The HTTP server's metrics/history consumer of the job events, for its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from mcp_server.context import AppContext
from mcp_server.events import JobEvent
from mcp_server.events._consumer import event_consumer_for

__all__ = ["running_event_consumer"]


@asynccontextmanager
async def running_event_consumer(context: AppContext) -> AsyncIterator[None]:
    """While inside: with events on Redis, the `metrics` group consumes the global stream
    and counts events by kind (`bst_job_events_total`); in-process events need none."""
    counter = context.telemetry.job_events

    def count(event: JobEvent) -> None:
        counter.labels(event.kind).inc()

    consumer = event_consumer_for(context.events(), count)
    if consumer is not None:
        consumer.start()
    try:
        yield
    finally:
        if consumer is not None:
            await anyio.to_thread.run_sync(consumer.stop)
