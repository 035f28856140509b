"""The HTTP server's metrics/history consumer of the job events, for its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio

from mcp_server.context import AppContext
from mcp_server.events import JobEvent
from mcp_server.events._consumer import EventConsumer, event_consumer_for

__all__ = ["metrics_consumer", "running_event_consumer"]


def metrics_consumer(
    context: AppContext, handle: Callable[[JobEvent], None]
) -> EventConsumer | None:
    """The consumer of the context's bus as BST_EVENTS_* configure it (None in-process)."""
    jobs = context.settings.jobs
    return event_consumer_for(
        context.events(), handle, group=jobs.events_group,
        min_idle_s=jobs.events_reclaim_idle_sec, max_deliveries=jobs.events_max_deliveries,
    )  # fmt: skip


@asynccontextmanager
async def running_event_consumer(context: AppContext) -> AsyncIterator[None]:
    """While inside: with events on Redis, the group BST_EVENTS_GROUP (`metrics`) consumes
    the global stream and counts events by kind (`bst_job_events_total`), reclaiming and
    dead-lettering as BST_EVENTS_RECLAIM_IDLE_SEC and BST_EVENTS_MAX_DELIVERIES say;
    in-process events need none."""
    counter = context.telemetry.job_events

    def count(event: JobEvent) -> None:
        counter.labels(event.kind).inc()

    consumer = metrics_consumer(context, count)
    if consumer is not None:
        consumer.start()
    try:
        yield
    finally:
        if consumer is not None:
            await anyio.to_thread.run_sync(consumer.stop)
