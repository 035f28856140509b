"""A consumer group on the global stream: read with XREADGROUP, handle, XACK; and the
reaper that takes over entries a dead consumer left pending (XAUTOCLAIM) and moves entries
delivered too often to the dead-letter stream `{prefix}:jobs:dead`.

An entry whose handler raises stays pending (not acked): the reaper hands it out again
once it has been idle `min_idle_s`, and after `max_deliveries` deliveries it is
dead-lettered and acked, so a poison event cannot loop forever."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from mcp_server.events._contract import JobEvent
from mcp_server.events._redis import RedisEventBus, stream_entries, to_event, unavailable_as_error

__all__ = ["GroupConsumer", "ReapResult"]

log = logging.getLogger("mcp_server.events")


@dataclass(frozen=True)
class ReapResult:
    """One reaper pass: entries handled again, dead-lettered, and gone (trimmed away
    while pending; Redis drops them from the pending list)."""

    reclaimed: int = 0
    dead: int = 0
    gone: int = 0


class GroupConsumer:
    """One consumer `consumer` of group `group` on the bus's global stream."""

    def __init__(
        self,
        bus: RedisEventBus,
        group: str,
        consumer: str,
        handle: Callable[[JobEvent], None],
        *,
        count: int = 100,
        min_idle_s: float = 60.0,
        max_deliveries: int = 5,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")
        self.bus, self.stream = bus, bus.keys.jobs
        self.group, self.consumer, self.handle = group, consumer, handle
        self.count, self.min_idle_s, self.max_deliveries = count, min_idle_s, max_deliveries
        # Its own connection: a blocked XREADGROUP must not hold the emitters' one.
        self.client: redis.Redis = bus.reader

    def ensure_group(self, start: str = "0") -> None:
        """Create the group (and the stream) if missing; from `start` (`0`: everything kept,
        `$`: only what comes next)."""
        with unavailable_as_error(self.client):
            try:
                self.client.xgroup_create(self.stream, self.group, id=start, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def poll(self, block_s: float = 1.0) -> int:
        """Read new entries (blocking up to `block_s`), handle and ack them; how many were
        handled. A handler error leaves its entry pending for the reaper."""
        block_ms = max(1, int(min(block_s, self.bus.max_block_s) * 1000))
        with unavailable_as_error(self.client):
            reply: Any = self.client.xreadgroup(
                self.group, self.consumer, {self.stream: ">"}, count=self.count, block=block_ms
            )
        return sum(self._handle(eid, fields) for eid, fields in stream_entries(reply))

    def _handle(self, entry_id: str, fields: dict[str, str] | None) -> bool:
        if fields:  # an entry trimmed away while pending has no fields left
            try:
                self.handle(to_event(entry_id, fields))
            except Exception:
                log.warning("event %s not handled; left pending", entry_id, exc_info=True)
                return False
        with unavailable_as_error(self.client):
            self.client.xack(self.stream, self.group, entry_id)
        return bool(fields)

    def reap(self) -> ReapResult:
        """Claim entries idle longer than `min_idle_s` (from any consumer, e.g. a dead one),
        dead-letter those delivered more than `max_deliveries` times and handle the rest."""
        reclaimed = dead = gone = 0
        start = "0-0"
        while True:
            with unavailable_as_error(self.client):
                reply: Any = self.client.xautoclaim(
                    self.stream, self.group, self.consumer,
                    min_idle_time=int(self.min_idle_s * 1000), start_id=start, count=self.count,
                )  # fmt: skip
            start, claimed = reply[0], reply[1]
            gone += len(reply[2]) if len(reply) > 2 else 0
            deliveries = self._deliveries(claimed)
            for entry_id, fields in claimed:
                if deliveries.get(entry_id, 1) > self.max_deliveries:
                    self._dead_letter(entry_id, fields, deliveries[entry_id])
                    dead += 1
                else:
                    reclaimed += self._handle(entry_id, fields)
            if start in ("0-0", "0") or not claimed:
                return ReapResult(reclaimed, dead, gone)

    def _deliveries(self, claimed: list[Any]) -> dict[str, int]:
        if not claimed:
            return {}
        with unavailable_as_error(self.client):
            rows = self.client.xpending_range(
                self.stream, self.group, min=claimed[0][0], max=claimed[-1][0],
                count=len(claimed), consumername=self.consumer,
            )  # fmt: skip
        return {str(r["message_id"]): int(r["times_delivered"]) for r in rows}

    def _dead_letter(self, entry_id: str, fields: dict[str, str] | None, deliveries: int) -> None:
        record: dict[Any, Any] = dict(fields or {}) | {
            "orig_id": entry_id, "group": self.group, "deliveries": str(deliveries),
        }  # fmt: skip
        log.warning("event %s dead-lettered after %d deliveries", entry_id, deliveries)
        with unavailable_as_error(self.client):
            pipe = self.client.pipeline(transaction=True)
            pipe.xadd(self.bus.keys.dead, record, maxlen=self.bus.maxlen_global, approximate=True)
            pipe.xack(self.stream, self.group, entry_id)
            pipe.execute()

    def run(
        self, stop: threading.Event, *, block_s: float = 1.0, reap_every_s: float = 10.0
    ) -> None:
        """Poll and reap until `stop` is set (checked after each blocked read, so it ends
        within `block_s`). Redis being away is logged and retried, not fatal."""
        self.ensure_group()
        next_reap = time.monotonic()
        while not stop.is_set():
            try:
                if time.monotonic() >= next_reap:
                    self.reap()
                    next_reap = time.monotonic() + reap_every_s
                self.poll(block_s)
            except Exception as exc:
                log.warning("event consumer %s/%s: %s", self.group, self.consumer, exc)
                stop.wait(min(block_s, 1.0))
