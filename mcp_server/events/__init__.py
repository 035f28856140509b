"""Job events: the contract (implementations follow in this package)."""

from mcp_server.events._contract import EVENT_KINDS, EventBus, EventKind, JobEvent

__all__ = ["EVENT_KINDS", "EventBus", "EventKind", "JobEvent"]
