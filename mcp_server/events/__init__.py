"""Job events: the contract, the in-process and Redis Streams buses, and async readers.

`make_event_bus(url)` picks the bus: no URL -> `MemoryEventBus`, `redis://` ->
`RedisEventBus`. `follow` / `follow_sse` turn a bus into an async stream for one job."""

from mcp_server.errors import EventBusUnavailableError, InvalidEventIdError
from mcp_server.events._contract import EVENT_KINDS, EventBus, EventKind, JobEvent
from mcp_server.events._factory import make_event_bus
from mcp_server.events._follow import follow, follow_sse, format_sse
from mcp_server.events._group import GroupConsumer, ReapResult
from mcp_server.events._memory import MemoryEventBus
from mcp_server.events._redis import RedisEventBus, StreamKeys
from mcp_server.events._stats import EventStats, GroupStats, event_stats, stats_metrics

__all__ = [
    "EVENT_KINDS",
    "EventBus",
    "EventBusUnavailableError",
    "EventKind",
    "EventStats",
    "GroupConsumer",
    "GroupStats",
    "InvalidEventIdError",
    "JobEvent",
    "MemoryEventBus",
    "ReapResult",
    "RedisEventBus",
    "StreamKeys",
    "event_stats",
    "follow",
    "follow_sse",
    "format_sse",
    "make_event_bus",
    "stats_metrics",
]
