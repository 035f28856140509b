"""Health of the event streams: length, consumer groups (pending, lag, oldest pending age)
and dead letters, as a model for `/health` and as Prometheus lines for `/metrics`.

`lag` (Redis 7: entries the group has not read yet) counts entries trimmed away before
the group read them, so `lag > length` means events were lost to MAXLEN: the alarm."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import anyio
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import BaseModel

from mcp_server.events._contract import EventBus
from mcp_server.events._ids import StreamId, parse_id
from mcp_server.events._memory import MemoryEventBus
from mcp_server.events._redis import RedisEventBus, unavailable_as_error

__all__ = [
    "EventStats",
    "GroupStats",
    "event_stats",
    "health_section",
    "metrics_text",
    "stats_metrics",
]


class GroupStats(BaseModel):
    """One consumer group of the global stream."""

    name: str
    consumers: int
    pending: int
    lag: int | None  # None: Redis cannot tell (e.g. after an XSETID or a deletion)
    lag_alarm: bool
    oldest_pending_s: float | None


class EventStats(BaseModel):
    """The global stream's state (the memory bus has no groups nor dead letters)."""

    backend: Literal["memory", "redis"]
    length: int
    dead_letters: int = 0
    groups: list[GroupStats] = []

    @property
    def alarm(self) -> bool:
        return any(g.lag_alarm for g in self.groups)


def event_stats(bus: EventBus) -> EventStats:
    """A snapshot (a few Redis round trips: run it in a thread from async code)."""
    if isinstance(bus, RedisEventBus):
        return _redis_stats(bus)
    if isinstance(bus, MemoryEventBus):
        return EventStats(backend="memory", length=bus.length())
    raise TypeError(f"no stats for {type(bus).__name__}")


def _redis_stats(bus: RedisEventBus) -> EventStats:
    client, stream = bus.client, bus.keys.jobs
    with unavailable_as_error(client):
        pipe = client.pipeline(transaction=False)
        pipe.xlen(stream)
        pipe.xlen(bus.keys.dead)
        length, dead = (int(n) for n in pipe.execute())
        try:
            infos: list[dict[str, Any]] = client.xinfo_groups(stream)
        except redis.ResponseError:  # no stream yet, hence no group
            infos = []
        newest: Any = client.xrevrange(stream, count=1) if infos else []
        last = parse_id(newest[0][0]) if newest else (0, 0)
        groups = [_group(client, stream, info, length, last) for info in infos]
    return EventStats(backend="redis", length=length, dead_letters=dead, groups=groups)


def _group(
    client: Any, stream: str, info: dict[str, Any], length: int, last: StreamId
) -> GroupStats:
    name = str(info["name"])
    pending = int(info["pending"])
    oldest = None
    if pending:
        rows = client.xpending_range(stream, name, min="-", max="+", count=1)
        oldest = rows[0]["time_since_delivered"] / 1000 if rows else None
    lag = info.get("lag")
    lag = None if lag is None else int(lag)
    # Redis 7.0 keeps counting entries trimmed before the group read them even after the
    # group has caught up, which would leave the alarm on for good: caught up is lag 0.
    if parse_id(str(info["last-delivered-id"])) >= last:
        lag = 0
    return GroupStats(
        name=name, consumers=int(info["consumers"]), pending=pending, lag=lag,
        lag_alarm=lag is not None and lag > length, oldest_pending_s=oldest,
    )  # fmt: skip


_UP = b"# HELP bst_events_up Job-event bus reachable\n# TYPE bst_events_up gauge\n"


class _Snapshot:
    """A collector over one stats snapshot (built per scrape, never registered globally)."""

    def __init__(self, stats: EventStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        yield GaugeMetricFamily(
            "bst_events_stream_length", "Entries in the global job-event stream", value=s.length
        )
        yield GaugeMetricFamily(
            "bst_events_dead_letters", "Entries in the dead-letter stream", value=s.dead_letters
        )
        per_group = {
            "pending": ("bst_events_group_pending", "Entries delivered to the group, not acked"),
            "lag": ("bst_events_group_lag", "Entries the group has not read yet (-1 unknown)"),
            "lag_alarm": ("bst_events_group_lag_alarm", "1 when lag exceeds the stream length: trimmed before read"),
            "oldest_pending_s": ("bst_events_group_oldest_pending_seconds", "Idle time of the oldest pending entry"),
            "consumers": ("bst_events_group_consumers", "Consumers in the group"),
        }  # fmt: skip
        for field, (metric, help_text) in per_group.items():
            family = GaugeMetricFamily(metric, help_text, labels=["group"])
            for g in s.groups:
                value = getattr(g, field)
                family.add_metric([g.name], -1.0 if value is None else float(value))
            yield family


def stats_metrics(stats: EventStats) -> bytes:
    """The snapshot in Prometheus text format, to append to `/metrics`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(stats))
    return generate_latest(registry)


async def health_section(bus: EventBus) -> dict[str, Any]:
    """The `/health` section: the stats and `ok`, or `ok: false` and what failed. Never
    raises (a health check reports)."""
    try:
        stats = await anyio.to_thread.run_sync(event_stats, bus)
    except Exception as exc:
        backend = "redis" if isinstance(bus, RedisEventBus) else "memory"
        return {"ok": False, "backend": backend, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "alarm": stats.alarm, **stats.model_dump()}


async def metrics_text(bus: EventBus) -> bytes:
    """The Prometheus lines for `/metrics`, or one `bst_events_up 0` line when the bus
    cannot be read (a scrape must not fail because Redis is away)."""
    try:
        stats = await anyio.to_thread.run_sync(event_stats, bus)
    except Exception:
        return _UP + b"bst_events_up 0.0\n"
    return _UP + b"bst_events_up 1.0\n" + stats_metrics(stats)
