"""MemoryCache and RedisCache (a real redis-server), including a Redis that dies mid-run."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from servers_testkit import free_port, start_redis

from market import Cache, MemoryCache, RedisCache, decode_arrays, encode_arrays


def test_array_codec_roundtrip_without_pickle():
    arrays = {
        "time": np.arange(5, dtype=np.int64),
        "close": np.linspace(0, 1, 5),
        "m": np.ones((2, 3), np.float32),
    }
    blob = encode_arrays(arrays)
    assert b"pickle" not in blob
    back = decode_arrays(blob)
    assert all(
        np.array_equal(arrays[k], back[k]) and arrays[k].dtype == back[k].dtype for k in arrays
    )
    with pytest.raises(TypeError):
        encode_arrays({"x": np.array([object()])})


async def test_memory_cache_lru_ttl_and_counters():
    now = [0.0]
    cache = MemoryCache(max_entries=2, clock=lambda: now[0])
    assert isinstance(cache, Cache)
    await cache.set("market", "a", b"1")
    await cache.set("market", "b", b"2", ttl_s=5)
    assert await cache.get("market", "a") == b"1"  # a is now most recent
    await cache.set("market", "c", b"3")  # evicts b (least recently used)
    assert await cache.get("market", "b") is None
    now[0] = 3601.0
    assert await cache.get("market", "a") is None  # market TTL is an hour
    assert cache.stats.hits == 1 and cache.stats.misses == 2
    with pytest.raises(ValueError):
        await cache.get("nope", "x")  # type: ignore[arg-type]


async def test_memory_cache_json_and_arrays():
    cache = MemoryCache()
    await cache.set_json("backtest", "k", {"a": [1, 2]})
    assert await cache.get_json("backtest", "k") == {"a": [1, 2]}
    await cache.set_arrays("optimization", "k", {"x": np.arange(3)})
    assert (await cache.get_arrays("optimization", "k"))["x"].tolist() == [0, 1, 2]


@pytest.mark.redis
async def test_redis_cache_roundtrip_ttl_and_namespaces(redis_url):
    cache = RedisCache(redis_url, prefix="t1")
    try:
        await cache.set_arrays("market", "k", {"t": np.arange(4, dtype=np.int64)})
        assert (await cache.get_arrays("market", "k"))["t"].tolist() == [0, 1, 2, 3]
        await cache.set_json("agents", "k", {"x": 1}, ttl_s=0.05)
        assert await cache.get_json("backtest", "k") is None  # namespaces are separate
        assert await cache.get_json("agents", "k") == {"x": 1}
        ttl_ms = await cache._redis.pttl("t1:market:k")
        assert 3_500_000 < ttl_ms <= 3_600_000
        assert cache.stats.hits == 2 and cache.stats.misses == 1 and cache.stats.errors == 0
    finally:
        await cache.aclose()


def _dead_port() -> int:
    return free_port()  # nothing listens there


@pytest.mark.redis
async def test_unreachable_redis_degrades_with_one_warning(caplog):
    cache = RedisCache(f"redis://127.0.0.1:{_dead_port()}/0", retry_after_s=0.0)
    with caplog.at_level(logging.WARNING, logger="market.cache"):
        for _ in range(3):
            assert await cache.get("market", "k") is None
            await cache.set("market", "k", b"v")
    assert cache.stats.errors == 6 and cache.stats.misses == 3
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    await cache.aclose()


@pytest.mark.redis
async def test_redis_dying_mid_run_never_fails_a_call(tmp_path, caplog):
    import shutil

    proc, port = start_redis(shutil.which("redis-server") or "redis-server", tmp_path)
    try:
        cache = RedisCache(f"redis://127.0.0.1:{port}/0", retry_after_s=0.0, socket_timeout_s=0.3)
        await cache.set("market", "k", b"v")
        assert await cache.get("market", "k") == b"v"
    finally:
        proc.kill()
        proc.wait()
    with caplog.at_level(logging.WARNING, logger="market.cache"):
        for _ in range(3):
            assert await cache.get("market", "k") is None
            await cache.set("market", "k", b"v2")
    assert cache.stats.hits == 1 and cache.stats.errors >= 3
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    await cache.aclose()
