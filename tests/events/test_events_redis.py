"""Redis-only behaviour: TTL, fast failure when Redis is down, the consumer group, the
reaper (XAUTOCLAIM, dead letters) and the stream stats behind /metrics and /health."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from servers_testkit import free_port

from mcp_server.errors import describe
from mcp_server.events import (
    EventBusUnavailableError,
    GroupConsumer,
    JobEvent,
    MemoryEventBus,
    RedisEventBus,
    event_stats,
    stats_metrics,
)

pytestmark = pytest.mark.redis


@pytest.fixture
def rbus(redis_url: str) -> Iterator[RedisEventBus]:
    bus = RedisEventBus.from_url(redis_url, prefix=f"t{uuid.uuid4().hex[:8]}", ttl_s=600)
    yield bus
    bus.close()


def _until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_job_streams_expire_and_the_global_one_does_not(rbus: RedisEventBus) -> None:
    rbus.emit("j", "queued")
    assert 0 < rbus.client.ttl(rbus.keys.job("j")) <= 600
    assert rbus.client.ttl(rbus.keys.jobs) == -1


def test_redis_down_fails_fast_with_a_fix_and_no_password() -> None:
    bus = RedisEventBus.from_url(f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    for call in (lambda: bus.emit("j", "queued"), lambda: bus.read("j", block_s=5)):
        with pytest.raises(EventBusUnavailableError) as info:
            call()
        assert "did not answer" in str(info.value) and "s3cret" not in str(info.value)
        assert "BST_EVENTS_URL" in describe(info.value) == str(info.value)  # the fix, once
    assert time.monotonic() - started < 10  # connection refused: no retry loop, no block
    bus.close()


def test_the_group_handles_and_acks(rbus: RedisEventBus) -> None:
    seen: list[JobEvent] = []
    consumer = GroupConsumer(rbus, "metrics", "c1", seen.append)
    consumer.ensure_group()
    consumer.ensure_group()  # a second start finds the group (BUSYGROUP is not an error)
    empty = event_stats(rbus)  # the group shows before any event (the stream is empty)
    assert empty.length == 0 and [g.name for g in empty.groups] == ["metrics"]
    ids = [rbus.emit(f"j{i}", "succeeded", n=i) for i in range(3)]
    assert consumer.poll(block_s=5) == 3
    assert [e.id for e in seen] == ids and [e.job_id for e in seen] == ["j0", "j1", "j2"]
    (group,) = event_stats(rbus).groups
    assert (group.pending, group.lag, group.lag_alarm) == (0, 0, False)
    assert consumer.poll(block_s=0.2) == 0


def test_the_reaper_takes_over_what_a_dead_consumer_left(rbus: RedisEventBus) -> None:
    GroupConsumer(rbus, "g", "x", lambda e: None).ensure_group()
    ids = [rbus.emit("j", "progress", done=i) for i in range(4)]
    # a consumer reads and dies before acking
    rbus.client.xreadgroup("g", "dead-one", {rbus.keys.jobs: ">"}, count=10)
    stats = event_stats(rbus).groups[0]
    assert stats.pending == 4 and stats.oldest_pending_s is not None
    seen: list[JobEvent] = []
    reaper = GroupConsumer(rbus, "g", "reaper", seen.append, min_idle_s=0.3)
    assert reaper.reap().reclaimed == 0  # not idle long enough yet
    time.sleep(0.5)
    result = reaper.reap()
    assert (result.reclaimed, result.dead) == (4, 0)
    assert [e.id for e in seen] == ids
    assert event_stats(rbus).groups[0].pending == 0


def test_an_entry_delivered_too_often_is_dead_lettered(rbus: RedisEventBus) -> None:
    def poison(event: JobEvent) -> None:
        raise RuntimeError("cannot handle this one")

    consumer = GroupConsumer(rbus, "g", "c", poison, min_idle_s=0, max_deliveries=2)
    consumer.ensure_group()
    bad = rbus.emit("j", "failed", error="x")
    assert consumer.poll(block_s=5) == 0  # delivery 1 fails: left pending
    rounds = []
    _until(lambda: rounds.append(consumer.reap()) or rounds[-1].dead == 1)
    assert len(rounds) == 2  # delivery 2 fails, the 3rd claim exceeds 2: dead
    ((_entry_id, fields),) = rbus.client.xrange(rbus.keys.dead)
    assert fields["orig_id"] == bad and fields["deliveries"] == "3" and fields["kind"] == "failed"
    stats = event_stats(rbus)
    assert stats.dead_letters == 1 and stats.groups[0].pending == 0


def test_lag_beyond_the_stream_length_raises_the_alarm(redis_url: str) -> None:
    bus = RedisEventBus.from_url(redis_url, prefix=f"t{uuid.uuid4().hex[:8]}", maxlen_global=10)
    consumer = GroupConsumer(bus, "slow", "c", lambda e: None)
    consumer.ensure_group()
    # Redis knows the lag exactly once the group has read: before that it counts what is left
    bus.emit("first", "queued")
    assert consumer.poll(block_s=5) == 1
    for i in range(500):
        bus.emit(f"j{i}", "queued")
    stats = event_stats(bus)
    (group,) = stats.groups
    assert stats.length < 500 and group.lag == 500 and group.lag_alarm and stats.alarm
    text = stats_metrics(stats).decode()
    assert 'bst_events_group_lag_alarm{group="slow"} 1.0' in text
    assert f"bst_events_stream_length {float(stats.length)}" in text
    while consumer.poll(block_s=0.1):
        pass
    (group,) = event_stats(bus).groups
    assert group.lag == 0 and not group.lag_alarm
    bus.close()


def test_the_memory_bus_reports_its_length() -> None:
    bus = MemoryEventBus()
    bus.emit("j", "queued")
    stats = event_stats(bus)
    assert (stats.backend, stats.length, stats.groups, stats.alarm) == ("memory", 1, [], False)
    assert b"bst_events_stream_length 1.0" in stats_metrics(stats)


def test_run_handles_reaps_and_stops(rbus: RedisEventBus) -> None:
    """The loop a consumer process runs: new events are handled, a dead consumer's pending
    ones are reclaimed by the periodic reaper, and `stop` ends it within a block."""
    GroupConsumer(rbus, "history", "x", lambda e: None).ensure_group()
    orphan = rbus.emit("j", "queued")
    rbus.client.xreadgroup("history", "dead-one", {rbus.keys.jobs: ">"}, count=10)
    seen: list[str] = []
    consumer = GroupConsumer(rbus, "history", "live", lambda e: seen.append(e.id), min_idle_s=0.2)
    stop = threading.Event()
    runner = threading.Thread(
        target=consumer.run, args=(stop,), kwargs={"block_s": 0.2, "reap_every_s": 0.2}
    )
    runner.start()
    fresh = rbus.emit("j", "started")
    _until(lambda: orphan in seen and fresh in seen)
    stop.set()
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert event_stats(rbus).groups[0].pending == 0
