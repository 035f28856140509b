"""The metrics/history consumer: the HTTP server runs it in its lifespan while events are
on Redis (a real redis-server), counting job events by kind for /metrics and acking
them; a consumer that died leaves pending entries the running one reclaims."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from mcp_server.events import JobEvent, MemoryEventBus, RedisEventBus, event_stats
from mcp_server.events._consumer import METRICS_GROUP, EventConsumer, event_consumer_for
from mcp_server.http import build_http_app
from mcp_server.settings import RouterSettings, ServerSettings, Settings

pytestmark = pytest.mark.redis


def _until(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(0.05)


@pytest.fixture
def fresh_default_streams(redis_url: str) -> Iterator[redis.Redis]:
    """The server's bus uses the default prefix: start and end without its streams."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.delete("bst:jobs", "bst:jobs:dead")
    yield client
    client.delete("bst:jobs", "bst:jobs:dead")
    client.close()


def _group(client: redis.Redis, name: str) -> dict[str, object] | None:
    try:
        groups = client.xinfo_groups("bst:jobs")
    except redis.ResponseError:
        return None
    return next((g for g in groups if g["name"] == name), None)


async def test_the_server_consumes_counts_and_acks_job_events(
    tmp_path: Path, redis_url: str, fresh_default_streams: redis.Redis
) -> None:
    client = fresh_default_streams
    settings = Settings(
        ServerSettings(_env_file=None, data_dir=tmp_path / "store", events_url=redis_url),  # type: ignore[call-arg]
        RouterSettings(_env_file=None),  # type: ignore[call-arg]
    )
    app = build_http_app(settings, host="127.0.0.1", port=8000)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http,
    ):
        _until(lambda: _group(client, METRICS_GROUP) is not None, what="the metrics group")
        bus = RedisEventBus.from_url(redis_url)  # a worker's emitter
        for job, end in (("a", "succeeded"), ("b", "succeeded"), ("c", "failed")):
            bus.emit(job, "queued")
            bus.emit(job, "started")
            bus.emit(job, end)  # type: ignore[arg-type]
        bus.close()
        _until(lambda: (_group(client, METRICS_GROUP) or {}).get("entries-read") == 9,
               what="all 9 events read by the group")  # fmt: skip
        _until(lambda: _group(client, METRICS_GROUP)["pending"] == 0, what="all acked")  # type: ignore[index]
        text = (await http.get("/metrics")).text
    assert 'bst_job_events_total{kind="succeeded"} 2.0' in text, text
    assert 'bst_job_events_total{kind="failed"} 1.0' in text
    assert 'bst_job_events_total{kind="queued"} 3.0' in text
    assert f'bst_events_group_pending{{group="{METRICS_GROUP}"}} 0.0' in text
    # shutdown stopped the consumer: new events stay unread
    bus = RedisEventBus.from_url(redis_url)
    bus.emit("d", "queued")
    time.sleep(1.5)
    assert _group(client, METRICS_GROUP)["entries-read"] == 9  # type: ignore[index]
    bus.close()


def test_a_dead_consumers_pending_entries_are_reclaimed(redis_url: str) -> None:
    bus = RedisEventBus.from_url(redis_url, prefix=f"t{uuid.uuid4().hex[:8]}")
    bus.client.xgroup_create(bus.keys.jobs, METRICS_GROUP, id="$", mkstream=True)
    left = [bus.emit(f"j{i}", "succeeded") for i in range(3)]
    # another server read these and died before acking them
    bus.client.xreadgroup(METRICS_GROUP, "dead-server", {bus.keys.jobs: ">"}, count=10)
    assert event_stats(bus).groups[0].pending == 3
    seen: list[JobEvent] = []
    consumer = EventConsumer(bus, seen.append, consumer="alive", block_s=0.2,
                             reap_every_s=0.3, min_idle_s=0.5)  # fmt: skip
    consumer.start()
    try:
        fresh = bus.emit("new", "queued")
        _until(lambda: len(seen) == 4, what="the new event and the 3 reclaimed ones")
        _until(lambda: event_stats(bus).groups[0].pending == 0, what="all acked")
    finally:
        consumer.stop()
    assert not consumer.running
    assert seen[0].id == fresh and sorted(e.id for e in seen[1:]) == sorted(left)
    assert event_stats(bus).dead_letters == 0
    bus.close()


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_consumer_survives_redis_being_down_at_start() -> None:
    from servers_testkit import free_port

    bus = RedisEventBus.from_url(f"redis://127.0.0.1:{free_port()}/0")
    consumer = EventConsumer(bus, lambda e: None, block_s=0.2)
    consumer.start()
    time.sleep(0.5)
    assert consumer.running  # retrying, not dead
    started = time.monotonic()
    consumer.stop()
    assert not consumer.running and time.monotonic() - started < 15
    bus.close()


def test_the_in_process_bus_needs_no_consumer() -> None:
    assert event_consumer_for(MemoryEventBus(), lambda e: None) is None
