"""The fan-out: MemoryFanout and RedisFanout (a real redis-server) behave the same, and a
Redis restart neither blocks publishers nor ends subscriptions."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis_testkit import RestartableRedis, own_redis

from market import Fanout, FanoutUnavailableError, MemoryFanout, RedisFanout, make_fanout


async def _roundtrip(fanout: Fanout) -> None:
    sub = await fanout.subscribe(["a", "b"])
    other = await fanout.subscribe(["c"])
    before = time.time()
    await fanout.publish("a", '{"v":1,"x":1}')
    await fanout.publish("c", "to other")
    await fanout.publish("b", '{"v":1,"x":2}')
    await fanout.publish("zzz", "nobody")
    first = await asyncio.wait_for(sub.get(), 10)
    second = await asyncio.wait_for(sub.get(), 10)
    assert (first.channel, first.text) == ("a", '{"v":1,"x":1}')
    assert (second.channel, second.text) == ("b", '{"v":1,"x":2}')
    assert before - 1 <= first.published_at <= time.time() + 1
    got = await asyncio.wait_for(other.get(), 10)
    assert (got.channel, got.text) == ("c", "to other")
    await sub.aclose()
    await other.aclose()
    await fanout.aclose()


async def test_memory_fanout_delivers_per_channel() -> None:
    await _roundtrip(make_fanout("memory://"))


@pytest.mark.redis
async def test_redis_fanout_delivers_per_channel(redis_url: str) -> None:
    fanout = make_fanout(redis_url)
    assert isinstance(fanout, RedisFanout)
    await _roundtrip(fanout)


async def test_memory_subscription_drops_oldest_when_the_reader_lags() -> None:
    fanout = MemoryFanout()
    sub = await fanout.subscribe(["a"])
    for i in range(10_005):
        await fanout.publish("a", str(i))
    assert sub.dropped == 5
    assert (await sub.get()).text == "5"
    await fanout.aclose()


def test_make_fanout_refuses_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="memory:// or redis://"):
        make_fanout("amqp://x")


@pytest.mark.redis
async def test_redis_restart_fails_publishes_fast_then_resumes(own_redis: RestartableRedis) -> None:
    fanout = RedisFanout(own_redis.url, retry_s=0.2)
    sub = await fanout.subscribe(["a"])
    await fanout.publish("a", "before")
    assert (await asyncio.wait_for(sub.get(), 10)).text == "before"

    own_redis.kill()
    failures = 0
    t0 = time.monotonic()
    for _ in range(50):
        try:
            await fanout.publish("a", "lost")
        except FanoutUnavailableError:
            failures += 1
    assert failures == 50
    assert time.monotonic() - t0 < 30, "publishing to a dead Redis must not hang"

    own_redis.restart()
    try:
        deadline = time.monotonic() + 60
        delivered = None
        while delivered is None and time.monotonic() < deadline:
            try:
                await fanout.publish("a", "after")
            except FanoutUnavailableError:
                await asyncio.sleep(0.1)
                continue
            try:
                delivered = await asyncio.wait_for(sub.get(), 0.5)
            except TimeoutError:
                continue
        assert delivered is not None and delivered.text == "after"
    finally:
        await fanout.aclose()


__all__ = ["own_redis"]  # the fixture, imported for pytest
