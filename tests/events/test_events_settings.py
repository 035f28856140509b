"""BST_EVENTS_*: the consumer group's name, reclaim idle time and deliveries before the
dead letters, and the streams' MAXLEN come from the settings (a real redis-server)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import redis

from mcp_server.context import AppContext
from mcp_server.events import JobEvent, RedisEventBus
from mcp_server.http._events_consumer import metrics_consumer
from mcp_server.jobs import job_event_bus
from mcp_server.settings import JobsSettings, ServerSettings, Settings

pytestmark = pytest.mark.redis


def _settings(tmp_path: Path, events_url: str, **jobs: object) -> Settings:
    return Settings(
        ServerSettings(data_dir=tmp_path, events_url=events_url, _env_file=None),  # type: ignore[call-arg]
        jobs=JobsSettings(broker_url="", _env_file=None, **jobs),  # type: ignore[arg-type]
    )


def test_changed_event_settings_take_effect(tmp_path: Path, redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/7"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    group = f"g{uuid.uuid4().hex[:8]}"
    settings = _settings(tmp_path, url, events_group=group, events_reclaim_idle_sec=0.2,
                         events_max_deliveries=1, events_maxlen=100, events_job_maxlen=10)  # fmt: skip
    context = AppContext(settings, local=True)
    bus = context.events()
    assert isinstance(bus, RedisEventBus)
    assert (bus.maxlen_global, bus.maxlen_job) == (100, 10)

    def fail(event: JobEvent) -> None:
        raise RuntimeError("a handler that always fails")

    consumer = metrics_consumer(context, fail)
    assert consumer is not None
    consumer.group.ensure_group("$")
    bus.emit("a" * 32, "queued")
    assert consumer.group.poll(0.5) == 0  # the handler failed: left pending
    assert [g["name"] for g in client.xinfo_groups("bst:jobs")] == [group]
    time.sleep(0.4)  # idle beyond 0.2 s (the default, 60 s, would claim nothing)
    reaped = consumer.group.reap()
    assert reaped.dead == 1 and reaped.reclaimed == 0  # 2 deliveries > 1 allowed
    assert client.xlen("bst:jobs:dead") == 1

    for i in range(600):
        bus.emit("b" * 32, "progress", done=i)
    assert client.xlen("bst:jobs") < 300  # MAXLEN ~100 trims whole nodes of 100 entries
    assert client.xlen(f"bst:job:{'b' * 32}") < 200
    bus.close()
    client.flushdb()
    client.close()


def test_the_defaults_are_the_documented_ones(tmp_path: Path, redis_url: str) -> None:
    jobs = JobsSettings(_env_file=None)  # type: ignore[call-arg]
    assert (jobs.events_group, jobs.events_reclaim_idle_sec, jobs.events_max_deliveries,
            jobs.events_maxlen, jobs.events_job_maxlen) == ("metrics", 60.0, 5, 100_000, 10_000)  # fmt: skip
    bus = job_event_bus(_settings(tmp_path, redis_url))
    assert isinstance(bus, RedisEventBus) and (bus.maxlen_global, bus.maxlen_job) == (
        100_000,
        10_000,
    )
    bus.close()
