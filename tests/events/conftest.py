"""Buses for the event tests: each behaviour test runs on the in-process bus and on Redis
Streams (a private redis-server; skipped, or failed with BST_REQUIRE_REDIS=1, without it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from mcp_server.events import EventBus, MemoryEventBus, RedisEventBus


@pytest.fixture(params=["memory", "redis"])
def bus(request: pytest.FixtureRequest) -> Iterator[EventBus]:
    if request.param == "memory":
        memory = MemoryEventBus(maxlen=50)
        yield memory
        memory.close()
        return
    url = request.getfixturevalue("redis_url")
    redis_bus = RedisEventBus.from_url(
        url, prefix=f"t{uuid.uuid4().hex[:8]}", maxlen_job=50, maxlen_global=50
    )
    yield redis_bus
    redis_bus.close()
