"""MarketData against the fake on loopback: fill, resume, cache, working set, MTF; SIGKILL mid-backfill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from market_testkit import DAY, MIN, NOW, small_instruments

from market import (
    CandleStore,
    DatasetKey,
    FakeBybitConfig,
    InvalidRangeError,
    MarketData,
    MemoryCache,
)
from ohlcv import floor_time

KEY = DatasetKey.of("linear", "BTCUSDT", "1")
LAST_CLOSED = floor_time(NOW, "1") - MIN


def service(client, tmp_path: Path, **kw) -> MarketData:
    return MarketData(CandleStore(tmp_path), client, clock_ms=lambda: NOW, **kw)


async def test_get_candles_fills_then_serves_from_store(loopback, make_client, tmp_path):
    async with make_client(loopback.url) as client:
        md = service(client, tmp_path)
        got = await md.get_candles("BTCUSDT", "1", NOW - DAY, NOW)
        first_requests = loopback.fake.requests["/v5/market/kline"]
        again = await md.get_candles("BTCUSDT", "1", NOW - DAY, NOW)
    want = loopback.fake.series("linear", "BTCUSDT", "1").between(
        floor_time(NOW - DAY, "1"), LAST_CLOSED
    )
    assert got.equals(want) and again.equals(want)
    assert loopback.fake.requests["/v5/market/kline"] == first_requests  # second call: store only


async def test_only_missing_ranges_are_fetched(loopback, make_client, tmp_path):
    async with make_client(loopback.url) as client:
        md = service(client, tmp_path)
        await md.get_candles("BTCUSDT", "1", NOW - DAY, NOW - DAY // 2)
        before = loopback.fake.requests["/v5/market/kline"]
        got = await md.get_candles("BTCUSDT", "1", NOW - DAY, NOW)
    assert loopback.fake.requests["/v5/market/kline"] - before == 1  # 720 new candles: one page
    assert np.all(np.diff(got.time) == MIN)


async def test_cache_serves_hot_range(loopback, make_client, tmp_path):
    cache = MemoryCache()
    async with make_client(loopback.url) as client:
        md = service(client, tmp_path, cache=cache)
        a = await md.get_candles("BTCUSDT", "5", NOW - DAY, NOW - DAY // 2)
        b = await md.get_candles("BTCUSDT", "5", NOW - DAY, NOW - DAY // 2)
    assert a.equals(b) and cache.stats.hits == 1 and cache.stats.misses == 1


async def test_bad_input(loopback, make_client, tmp_path):
    async with make_client(loopback.url) as client:
        md = service(client, tmp_path)
        with pytest.raises(InvalidRangeError, match="after end"):
            await md.get_candles("BTCUSDT", "1", NOW, NOW - DAY)
        with pytest.raises(InvalidRangeError, match="before"):
            await md.get_candles("BTCUSDT", "60", NOW - 40 * DAY, NOW - 30 * DAY)
        requests = loopback.fake.requests["/v5/market/kline"]
        with pytest.raises(InvalidRangeError, match="before"):  # remembered: no second walk
            await md.get_candles("BTCUSDT", "60", NOW - 40 * DAY, NOW - 30 * DAY)
        assert loopback.fake.requests["/v5/market/kline"] == requests
    assert md.store.datasets() == []


async def test_working_set_and_top_up(loopback, make_client, tmp_path):
    now = [NOW]
    async with make_client(loopback.url) as client:
        md = MarketData(CandleStore(tmp_path), client, clock_ms=lambda: now[0])
        ws = await md.working_set("BTCUSDT", "1", size=500, load_limit=1000)
        assert len(ws) == 500 and ws.time[-1] == LAST_CLOSED
        assert len(md.store.load(KEY)) == 1000
        same = await md.working_set("BTCUSDT", "1")
        assert same.equals(ws)


async def test_mtf_aligned_from_base(loopback, make_client, tmp_path):
    async with make_client(loopback.url) as client:
        md = service(client, tmp_path)
        views = await md.mtf("BTCUSDT", ["1", "15", "60"], load_limit=1000)
    assert set(views) == {"1", "15", "60"}
    frames = {k: v.candles for k, v in views.items()}
    assert np.all(frames["15"].time % (15 * MIN) == 0) and np.all(frames["60"].time % (60 * MIN) == 0)
    assert not views["1"].partial_first and not views["1"].partial_last
    assert views["60"].partial_last  # the newest hour is still forming
    base = frames["1"]
    last_hour = frames["60"]
    i = -2  # a complete hour
    inside = base.between(int(last_hour.time[i]), int(last_hour.time[i]) + 59 * MIN)
    assert last_hour.high[i] == inside.high.max() and last_hour.volume[i] == pytest.approx(
        inside.volume.sum()
    )


async def test_offline_service_serves_store(tmp_path):
    md = MarketData(CandleStore(tmp_path), None, clock_ms=lambda: NOW)
    with pytest.raises(InvalidRangeError, match="no exchange client"):
        await md.get_candles("BTCUSDT", "1", NOW - DAY, NOW)


BACKFILL = textwrap.dedent(
    """
    import asyncio, sys, httpx
    from market import BybitClient, ClientConfig, CandleStore, MarketData
    url, root, start, now = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    async def main():
        async with httpx.AsyncClient() as http:
            client = BybitClient(http, ClientConfig(base_url=url, rate_per_s=15, concurrency=2))
            md = MarketData(CandleStore(root), client, flush_rows=1, clock_ms=lambda: now)
            await md.get_candles("BTCUSDT", "1", start, now)
    asyncio.run(main())
    """
)


@pytest.mark.slow
async def test_sigkill_mid_backfill_then_resume(make_server, make_client, tmp_path):
    srv = make_server(FakeBybitConfig(instruments=small_instruments(25)))
    root = tmp_path / "store"
    start = NOW - 20 * DAY  # 28,800 candles: 29 pages at 15 req/s ~ 2 s
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", BACKFILL, srv.url, str(root), str(start), str(NOW)], env=env
    )
    chunk_dir = root / "v1/linear/BTCUSDT/1"
    deadline = time.monotonic() + 60

    def committed() -> bool:
        return chunk_dir.is_dir() and any(p.name.startswith("chunk-") for p in chunk_dir.iterdir())

    while not (
        committed() and srv.fake.requests["/v5/market/kline"] >= 8
    ):  # some pages in, many to go
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = CandleStore(root)
    partial = store.load(KEY)  # readable: no torn file
    assert 0 < len(partial) < 28_800
    assert np.all(np.diff(partial.time) > 0)
    series = srv.fake.series("linear", "BTCUSDT", "1")
    idx = np.searchsorted(series.time, partial.time)
    assert np.array_equal(series.close[idx], partial.close)  # every committed candle is right
    before = srv.fake.requests["/v5/market/kline"]
    async with make_client(srv.url) as client:
        md = MarketData(store, client, clock_ms=lambda: NOW)
        full = await md.get_candles("BTCUSDT", "1", start, NOW)
    assert len(full) == 28_800 and np.all(np.diff(full.time) == MIN)
    assert full.equals(series.between(floor_time(start, "1"), LAST_CLOSED))
    assert store.gaps(KEY) == [] and len(store.load(KEY)) == 28_800
    assert srv.fake.requests["/v5/market/kline"] - before < 29  # resumed, not restarted


async def test_backfill_writes_each_chunk_about_once(make_server, make_client, tmp_path):
    """Pages are grouped by store chunk: a chunk is written when its share of the range is in."""
    from market.store import CHUNK_CANDLES

    srv = make_server(FakeBybitConfig(instruments=small_instruments(100)))
    start = NOW - 95 * DAY  # 136,800 candles over 3 chunks, fetched by 4 windows at once
    writes: list[int] = []
    async with make_client(srv.url) as client:
        md = service(client, tmp_path)
        upsert = md.store.upsert
        md.store.upsert = lambda key, c, **kw: (writes.append(len(c)), upsert(key, c, **kw))[1]  # type: ignore[method-assign]
        got = await md.get_candles("BTCUSDT", "1", start, NOW)
    series = srv.fake.series("linear", "BTCUSDT", "1")
    assert got.equals(series.between(floor_time(start, "1"), LAST_CLOSED))
    chunks = np.unique(got.time // (CHUNK_CANDLES * MIN))
    assert (
        sum(writes) == len(got) and len(writes) <= len(chunks) + 1
    )  # not once per flush per window
    assert md.store.gaps(KEY) == []


async def test_small_flush_rows_still_commits_every_page(loopback, make_client, tmp_path):
    writes: list[int] = []
    async with make_client(loopback.url) as client:
        md = service(client, tmp_path, flush_rows=1)
        upsert = md.store.upsert
        md.store.upsert = lambda key, c, **kw: (writes.append(len(c)), upsert(key, c, **kw))[1]  # type: ignore[method-assign]
        got = await md.get_candles("BTCUSDT", "1", NOW - DAY, NOW)
    assert len(writes) >= 2 and sum(writes) == len(got)


async def test_candles_from_the_fake_mark_the_data_set_synthetic(loopback, make_client, tmp_path):
    """The fake says so in every response; the client notices and the store keeps it."""
    async with make_client(loopback.url) as client:
        assert not client.synthetic
        md = service(client, tmp_path)
        await md.get_candles("BTCUSDT", "1", NOW - DAY, NOW)
        assert client.synthetic
    assert md.is_synthetic("BTCUSDT", "1") and CandleStore(tmp_path).is_synthetic(KEY)
    assert not md.is_synthetic("ETHUSDT", "1")
