"""The fake follows the spec's row rules, and the client reads them right (over loopback)."""

from __future__ import annotations

import itertools

import httpx
import numpy as np
import pytest
from market_testkit import DAY, MIN, NOW, small_instruments

from market import (
    FakeBybitConfig,
    FakeInstrument,
    UnknownSymbolError,
)
from ohlcv import UnknownIntervalError, floor_time


def raw(url: str, path: str = "/v5/market/kline", **params: object) -> dict:
    r = httpx.get(url + path, params={k: str(v) for k, v in params.items()})
    assert r.status_code == 200
    return r.json()


def open_minute() -> int:
    return floor_time(NOW, "1")


def test_no_bounds_newest_default_limit_with_open_candle(loopback):
    body = raw(loopback.url, symbol="BTCUSDT", interval="1")
    assert body["retCode"] == 0 and body["retMsg"] == "OK"
    rows = body["result"]["list"]
    assert len(rows) == 200  # default limit
    assert all(isinstance(x, str) for row in rows for x in row) and len(rows[0]) == 7
    times = [int(r[0]) for r in rows]
    assert times == sorted(times, reverse=True)  # newest first
    assert times[0] == open_minute()  # the still-open candle is served


def test_category_defaults_to_linear(loopback):
    body = raw(loopback.url, symbol="BTCUSDT", interval="1", limit=3)
    assert body["result"]["category"] == "linear"


def test_end_only_newest_rows_at_or_before_end(loopback):
    end = open_minute() - 100 * MIN
    rows = raw(loopback.url, symbol="BTCUSDT", interval="1", end=end, limit=5)["result"]["list"]
    assert [int(r[0]) for r in rows] == [end - i * MIN for i in range(5)]


def test_start_only_anchors_forward_from_floored_start(loopback):
    start = open_minute() - 1000 * MIN + 30_000  # mid-candle
    rows = raw(loopback.url, symbol="BTCUSDT", interval="1", start=start, limit=4)["result"]["list"]
    assert [int(r[0]) for r in rows] == [start - 30_000 + i * MIN for i in (3, 2, 1, 0)]


def test_both_bounds_inclusive(loopback):
    start = floor_time(NOW, "60") - 5 * 3_600_000
    end = start + 2 * 3_600_000
    rows = raw(loopback.url, symbol="BTCUSDT", interval="60", start=start, end=end)["result"][
        "list"
    ]
    assert [int(r[0]) for r in rows] == [end, end - 3_600_000, start]


def test_both_bounds_too_many_keeps_newest(loopback):
    start = open_minute() - 120 * MIN
    end = open_minute() - 10 * MIN
    rows = raw(loopback.url, symbol="BTCUSDT", interval="1", start=start, end=end, limit=2)[
        "result"
    ]["list"]
    assert [int(r[0]) for r in rows] == [end, end - MIN]


def test_outside_data_is_empty_not_error(loopback):
    body = raw(loopback.url, symbol="BTCUSDT", interval="1", end=NOW - 30 * DAY)
    assert body["retCode"] == 0 and body["result"]["list"] == []
    body = raw(loopback.url, symbol="BTCUSDT", interval="1", start=NOW + DAY)
    assert body["retCode"] == 0 and body["result"]["list"] == []


def test_start_zero_limit_one_finds_first_candle(loopback):
    rows = raw(loopback.url, symbol="BTCUSDT", interval="1", start=0, limit=1)["result"]["list"]
    inst = loopback.fake.config.instruments[0]
    assert int(rows[0][0]) == loopback.fake.first_candle_ms(inst)


@pytest.mark.parametrize(
    ("params", "msg"),
    [
        ({"symbol": "NOPEUSDT", "interval": "1"}, "Not supported symbols"),
        ({"symbol": "BTCUSDT", "interval": "7"}, "Invalid period!"),
        ({"symbol": "BTCUSDT", "interval": "1", "limit": 1001}, "limit"),
        ({"symbol": "BTCUSDT", "interval": "1", "start": NOW, "end": NOW - DAY}, "start"),
        ({"interval": "1"}, "symbol"),
    ],
)
def test_parameter_errors_are_10001_on_http_200(loopback, params, msg):
    body = raw(loopback.url, **params)
    assert body["retCode"] == 10001 and msg in body["retMsg"]


def test_configurable_undocumented_behaviour(make_server):
    srv = make_server(
        FakeBybitConfig(
            instruments=small_instruments(), limit_above_max="clamp", start_after_end="empty"
        )
    )
    assert len(raw(srv.url, symbol="BTCUSDT", interval="1", limit=5000)["result"]["list"]) == 1000
    body = raw(srv.url, symbol="BTCUSDT", interval="1", start=NOW, end=NOW - DAY)
    assert body["retCode"] == 0 and body["result"]["list"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/v5/market/mark-price-kline",
        "/v5/market/index-price-kline",
        "/v5/market/premium-index-price-kline",
    ],
)
def test_price_klines_have_five_string_fields(loopback, path):
    rows = raw(loopback.url, path, symbol="BTCUSDT", interval="5", limit=3)["result"]["list"]
    assert len(rows) == 3 and all(len(r) == 5 and all(isinstance(x, str) for x in r) for r in rows)


async def test_client_single_page_ascending_and_typed(loopback, make_client):
    async with make_client(loopback.url) as client:
        c = await client.get_klines("BTCUSDT", "1", end=open_minute() - MIN, limit=10)
    assert len(c) == 10 and c.time.dtype == np.int64
    assert np.all(np.diff(c.time) == MIN)
    series = loopback.fake.series("linear", "BTCUSDT", "1").between(c.time[0], c.time[-1])
    assert np.array_equal(series.close, c.close) and np.array_equal(series.volume, c.volume)


async def test_client_mark_klines_have_nan_volume(loopback, make_client):
    async with make_client(loopback.url) as client:
        c = await client.get_klines("BTCUSDT", "1", limit=5, kind="mark")
    assert len(c) == 5 and np.isnan(c.volume).all()


async def test_client_inverse_swaps_volume_and_turnover(loopback, make_client):
    async with make_client(loopback.url) as client:
        c = await client.get_klines(
            "BTCUSD", "1", category="inverse", end=open_minute() - MIN, limit=5
        )
    series = loopback.fake.series("inverse", "BTCUSD", "1").between(c.time[0], c.time[-1])
    assert np.array_equal(series.volume, c.volume) and np.array_equal(series.turnover, c.turnover)


async def test_unknown_symbol_names_valid_choices(loopback, make_client):
    async with make_client(loopback.url) as client:
        with pytest.raises(UnknownSymbolError) as info:
            await client.get_klines("DOGEUSDT", "1")
    assert "DOGEUSDT" in str(info.value) and "BTCUSDT" in str(info.value)
    assert loopback.fake.requests["/v5/market/kline"] == 1  # 10001 is never retried


async def test_unknown_interval_rejected_before_any_request(loopback, make_client):
    async with make_client(loopback.url) as client:
        with pytest.raises(UnknownIntervalError) as info:
            await client.get_klines("BTCUSDT", "7")
    assert "'7'" in str(info.value) and "240" in str(info.value)
    assert loopback.fake.stats()["requests"] == 0


async def test_instruments_follow_cursor_pages(make_server, make_client):
    many = [FakeInstrument(symbol=f"C{i:02d}USDT", history_days=1) for i in range(25)]
    srv = make_server(
        FakeBybitConfig(instruments=[*many, FakeInstrument(symbol="BTCUSDT", category="spot")])
    )
    async with make_client(srv.url) as client:
        rows = await client.instruments("linear", page_size=10)
        spot = await client.instruments("spot", page_size=10)
    assert [r.symbol for r in rows] == [f"C{i:02d}USDT" for i in range(25)]
    assert srv.fake.requests["/v5/market/instruments-info"] == 3 + 1
    assert [r.symbol for r in spot] == ["BTCUSDT"]


async def test_instruments_default_status_is_trading(make_server, make_client):
    insts = [FakeInstrument(symbol="BTCUSDT"), FakeInstrument(symbol="OLDUSDT", status="Closed")]
    srv = make_server(FakeBybitConfig(instruments=insts))
    async with make_client(srv.url) as client:
        assert [r.symbol for r in await client.instruments("linear")] == ["BTCUSDT"]
        assert [r.symbol for r in await client.instruments("linear", status="Closed")] == [
            "OLDUSDT"
        ]


async def test_tickers_and_server_time(loopback, make_client):
    async with make_client(loopback.url) as client:
        assert await client.server_time_ms() == NOW
        tickers = await client.tickers("linear")
    assert {t.symbol for t in tickers} == {"BTCUSDT", "ETHUSDT"} and all(
        t.lastPrice > 0 for t in tickers
    )


def test_funding_start_time_alone_is_an_error(loopback):
    body = raw(
        loopback.url,
        "/v5/market/funding/history",
        category="linear",
        symbol="BTCUSDT",
        startTime=NOW - DAY,
    )
    assert body["retCode"] == 10001
    body = raw(
        loopback.url, "/v5/market/funding/history", category="linear", symbol="BTCUSDT", limit=201
    )
    assert body["retCode"] == 10001


async def test_funding_history_pages_backwards(make_server, make_client):
    srv = make_server(
        FakeBybitConfig(instruments=[FakeInstrument(symbol="BTCUSDT", history_days=120)])
    )
    async with make_client(srv.url) as client:
        rows = await client.funding_history("BTCUSDT", start=NOW - 100 * DAY, end=NOW)
    times = [r.fundingRateTimestamp for r in rows]
    assert times == sorted(set(times)) and len(times) == 300
    assert all(b - a == 8 * 3_600_000 for a, b in itertools.pairwise(times))
    assert srv.fake.requests["/v5/market/funding/history"] == 2


@pytest.mark.parametrize(
    ("kind", "category"),
    [
        ("kline", "linear"),
        ("kline", "inverse"),
        ("mark-price-kline", "linear"),
        ("index-price-kline", "linear"),
        ("premium-index-price-kline", "linear"),
    ],
)
def test_row_cache_pages_equal_plain_encoding(kind, category):
    import json

    from market import random_walk_candles
    from market._fake_rows import RowCache, format_rows
    from ohlcv import Candles

    series = Candles.from_arrays(random_walk_candles(2_600, start_ms=NOW - 3_000 * MIN))
    cache = RowCache(block=256, max_blocks=4)  # small: pages span blocks and blocks get evicted
    key = (category, "BTCUSDT", "1", kind)
    for lo, hi in [(0, 1), (0, 2_600), (255, 257), (1_000, 2_000), (2_599, 2_600), (7, 7), (0, 0)]:
        got = json.loads("[" + cache.page(series, key, lo, hi) + "]")
        assert got == format_rows(series.take(slice(lo, hi)), kind, category), (lo, hi)
    # A regenerated series (a new object) is re-encoded, never served from stale blocks.
    moved = Candles.from_arrays(random_walk_candles(2_600, start_ms=NOW - 3_000 * MIN, seed=7))
    got = json.loads("[" + cache.page(moved, key, 100, 900) + "]")
    assert got == format_rows(moved.take(slice(100, 900)), kind, category)


def test_kline_body_is_compact_json_of_the_envelope(loopback):
    import json

    r = httpx.get(
        loopback.url + "/v5/market/kline",
        params={"symbol": "BTCUSDT", "interval": "1", "limit": "3"},
    )
    body = r.json()
    assert r.text == json.dumps(body, separators=(",", ":"))
    assert list(body) == ["retCode", "retMsg", "result", "retExtInfo", "time"]
    assert list(body["result"]) == ["symbol", "category", "list"]
