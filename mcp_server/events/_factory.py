"""`make_event_bus`: the bus a URL names."""

from __future__ import annotations

from mcp_server.errors import StartupError
from mcp_server.events._contract import EventBus
from mcp_server.events._memory import MemoryEventBus

__all__ = ["make_event_bus"]


def make_event_bus(
    url: str | None = None, *, maxlen_job: int = 10_000, maxlen_global: int = 100_000
) -> EventBus:
    """None, "" or `memory://`: in-process; `redis://`, `rediss://`, `unix://`: Redis Streams,
    each stream trimmed to about its `maxlen_*` (BST_EVENTS_JOB_MAXLEN, BST_EVENTS_MAXLEN)."""
    if not url or url.strip() == "memory://":
        return MemoryEventBus()
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        from mcp_server.events._redis import RedisEventBus

        return RedisEventBus.from_url(url, maxlen_job=maxlen_job, maxlen_global=maxlen_global)
    raise StartupError(
        f"BST_EVENTS_URL scheme {scheme!r} is not supported; use redis://host:6379/2 or leave "
        "it empty for in-process events"
    )
