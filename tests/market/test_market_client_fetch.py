"""Range fetches against the fake: windows, de-dup, open candle, continuity."""

from __future__ import annotations

import numpy as np
import pytest
from market_testkit import DAY, MIN, NOW, small_instruments

from market import (
    ContinuityError,
    FakeBybitConfig,
    FakeInstrument,
    InvalidRangeError,
    random_walk_candles,
)
from ohlcv import floor_time


async def test_range_fetch_equals_exchange_series(loopback, make_client):
    start = NOW - 2 * DAY + 12_345  # mid-candle: the containing candle is included
    async with make_client(loopback.url, concurrency=4) as client:
        got, progress = await client.fetch_candles("BTCUSDT", "1", start)
    want = loopback.fake.series("linear", "BTCUSDT", "1").between(
        floor_time(start, "1"), floor_time(NOW, "1") - MIN
    )
    assert got.equals(want)  # ascending, complete, no duplicates, no open candle
    assert progress.gaps == [] and progress.candles == len(want) == progress.expected - 1
    assert (
        progress.requests == loopback.fake.requests["/v5/market/kline"] == 3
    )  # 2881 rows incl. the open one: 3 windows of one page


async def test_open_candle_never_returned(loopback, make_client):
    async with make_client(loopback.url) as client:
        got, _ = await client.fetch_candles("BTCUSDT", "1", NOW - 10 * MIN)
    assert got.time[-1] == floor_time(NOW, "1") - MIN
    assert np.all(got.time + MIN <= NOW)


async def test_pages_are_delivered_as_they_arrive(loopback, make_client):
    pages = []
    async with make_client(loopback.url, concurrency=3) as client:
        got, _ = await client.fetch_candles("BTCUSDT", "5", NOW - 3 * DAY, on_page=pages.append)
    assert sum(len(p) for p in pages) == len(got)
    joined = np.sort(np.concatenate([p.time for p in pages]))
    assert np.array_equal(joined, got.time)


async def test_range_before_first_candle_returns_nothing(loopback, make_client):
    async with make_client(loopback.url) as client:
        got, progress = await client.fetch_candles("BTCUSDT", "1", NOW - 30 * DAY, NOW - 20 * DAY)
    assert len(got) == 0 and progress.reached_first_candle


async def test_range_starting_before_first_candle_stops_at_history_start(loopback, make_client):
    async with make_client(loopback.url) as client:
        got, progress = await client.fetch_candles("BTCUSDT", "60", NOW - 30 * DAY)
    first = loopback.fake.first_candle_ms(loopback.fake.config.instruments[0])
    assert got.time[0] == floor_time(first, "60") and progress.reached_first_candle


async def test_start_after_end_is_invalid_range(loopback, make_client):
    async with make_client(loopback.url) as client:
        with pytest.raises(InvalidRangeError):
            await client.fetch_candles("BTCUSDT", "1", NOW - DAY, NOW - 2 * DAY)


@pytest.mark.parametrize("interval", ["D", "W", "M", "720"])
async def test_calendar_intervals(make_server, make_client, interval):
    srv = make_server(
        FakeBybitConfig(instruments=[FakeInstrument(symbol="BTCUSDT", history_days=200)])
    )
    async with make_client(srv.url) as client:
        got, progress = await client.fetch_candles("BTCUSDT", interval, NOW - 150 * DAY)
    assert len(got) > 3 and progress.gaps == []
    assert np.array_equal(got.time, np.unique(got.time))
    if interval == "W":
        assert all(
            np.datetime64(int(t), "ms").astype("datetime64[D]").item().isoweekday() == 1
            for t in got.time
        )
    if interval == "M":
        assert all(
            np.datetime64(int(t), "ms").astype("datetime64[D]").item().day == 1 for t in got.time
        )


def holey_source(n_bars, *, interval_minutes=1, start_ms, seed=42, symbol="BTCUSDT"):
    data = random_walk_candles(
        n_bars, interval_minutes=interval_minutes, start_ms=start_ms, seed=seed, symbol=symbol
    )
    keep = np.ones(n_bars, dtype=bool)
    keep[n_bars - 1500 : n_bars - 1490] = False  # a 10-candle exchange outage
    return {k: v[keep] for k, v in data.items()}


async def test_exchange_gap_is_reported(make_server, make_client):
    srv = make_server(
        FakeBybitConfig(instruments=small_instruments(2), horizon_margin_ms=0), source=holey_source
    )
    async with make_client(srv.url) as client:
        got, progress = await client.fetch_candles("BTCUSDT", "1", NOW - DAY)
    assert len(progress.gaps) == 1
    gap = progress.gaps[0]
    assert (gap.end - gap.start + 1) == 10 * MIN
    assert not np.isin(np.arange(gap.start, gap.end, MIN), got.time).any()


async def test_strict_mode_raises_on_gap(make_server, make_client):
    srv = make_server(
        FakeBybitConfig(instruments=small_instruments(2), horizon_margin_ms=0), source=holey_source
    )
    async with make_client(srv.url) as client:
        with pytest.raises(ContinuityError):
            await client.fetch_candles("BTCUSDT", "1", NOW - DAY, strict=True)
