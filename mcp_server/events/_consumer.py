"""The metrics/history consumer: a `GroupConsumer` of the global stream run on a thread
of the HTTP server while events are on Redis. It hands each event to a callback (the
server counts outcomes for `/metrics`), acks it, and reaps periodically: entries a dead
consumer left pending are reclaimed with XAUTOCLAIM, entries delivered too often go to
the dead-letter stream.

The in-process bus needs no consumer: its events never leave the process, so there is
nothing to acknowledge or reclaim, and `/metrics` reads the jobs themselves."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from mcp_server.events._contract import EventBus, JobEvent
from mcp_server.events._group import GroupConsumer
from mcp_server.events._redis import RedisEventBus

__all__ = ["METRICS_GROUP", "EventConsumer", "event_consumer_for"]

log = logging.getLogger("mcp_server.events")
METRICS_GROUP = "metrics"


class EventConsumer:
    """Runs one `GroupConsumer` on a daemon thread between `start()` and `stop()`.

    The group is created at the stream's end (`$`) the first time: a new deployment
    counts what happens from then on, not the history it finds. Redis being down at
    start or later is logged and retried; it never stops the server."""

    def __init__(
        self,
        bus: RedisEventBus,
        handle: Callable[[JobEvent], None],
        *,
        group: str = METRICS_GROUP,
        consumer: str | None = None,
        block_s: float = 1.0,
        reap_every_s: float = 10.0,
        min_idle_s: float = 60.0,
        max_deliveries: int = 5,
    ) -> None:
        name = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.group = GroupConsumer(
            bus, group, name, handle, min_idle_s=min_idle_s, max_deliveries=max_deliveries
        )
        self.block_s, self.reap_every_s = block_s, reap_every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"bst-events-{self.group.group}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        g = self.group
        while not self._stop.is_set():
            try:
                g.ensure_group("$")
                log.info("event consumer %s/%s running on %s", g.group, g.consumer, g.stream)
                g.run(self._stop, block_s=self.block_s, reap_every_s=self.reap_every_s)
            except Exception as exc:  # Redis away at start: the server still serves
                log.warning("event consumer %s/%s: %s; retrying", g.group, g.consumer, exc)
                self._stop.wait(max(self.block_s, 1.0))

    def stop(self) -> None:
        """Stop and wait for the thread (it leaves within one blocked read)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.block_s + 10.0)


def event_consumer_for(
    bus: EventBus, handle: Callable[[JobEvent], None], **options: Any
) -> EventConsumer | None:
    """The metrics consumer for `bus` (`options`: `EventConsumer`'s group, min_idle_s,
    max_deliveries...), or None for a bus that needs none (in-process)."""
    return EventConsumer(bus, handle, **options) if isinstance(bus, RedisEventBus) else None
