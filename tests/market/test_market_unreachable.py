"""No route to the exchange fails fast and says so; stored ranges never touch the network;
a backfill the exchange stops answering reports what it stored and what is missing."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import respx
from market_testkit import (
    DAY,
    MIN,
    NOW,
    CutTransport,
    NoNetwork,
    SleepRecorder,
    fast_config,
    refused_url,
)

import market as M
from market._backfill import opens_between
from ohlcv import floor_time, parse_time_ms

KEY = M.DatasetKey.of("linear", "BTCUSDT", "1")
LAST_CLOSED = floor_time(NOW, "1") - MIN


@pytest.mark.parametrize("url", [refused_url(), "http://bybit.invalid"], ids=["refused", "dns"])
async def test_no_route_is_unreachable_within_seconds_with_one_retry(url):
    async with httpx.AsyncClient() as http:
        client = M.BybitClient(http, M.ClientConfig(base_url=url))  # the default retry policy
        started = time.monotonic()
        with pytest.raises(M.ExchangeUnreachableError, match=r"unreachable \(no network\?\)"):
            await client.server_time_ms()
        elapsed = time.monotonic() - started
    assert elapsed < 5.0  # generous on a loaded machine; ~0.2 s here, ~8 s before
    assert client.requests == 2 and client.retries == 1


async def test_old_policy_retries_no_route_like_a_timeout():
    sleeps = SleepRecorder()
    async with httpx.AsyncClient() as http:
        config = fast_config(refused_url(), max_attempts=4, fail_fast_unreachable=False)
        client = M.BybitClient(http, config, sleep=sleeps)
        with pytest.raises(M.ExchangeUnreachableError):
            await client.server_time_ms()
    assert client.requests == 4 and len(sleeps.calls) == 3


@respx.mock
async def test_the_quick_retry_recovers_a_blip():
    base = "https://bybit.test"
    route = respx.get(base + "/v5/market/time")
    route.side_effect = [
        httpx.ConnectError("[Errno -3] Temporary failure in name resolution"),
        httpx.Response(200, json={"retCode": 0, "retMsg": "OK", "result": {"timeNano": "2000000"}}),
    ]
    sleeps = SleepRecorder()
    async with httpx.AsyncClient() as http:
        client = M.BybitClient(
            http, M.ClientConfig(base_url=base, unreachable_retry_s=0.05), sleep=sleeps
        )
        assert await client.server_time_ms() == 2
    assert sleeps.calls == [0.05] and route.call_count == 2


def _service(http: httpx.AsyncClient, root: Path, url: str, **over: object) -> M.MarketData:
    client = M.BybitClient(http, fast_config(url, concurrency=1, **over))
    return M.MarketData(M.CandleStore(root), client, clock_ms=lambda: NOW)


async def test_a_fully_stored_range_never_touches_the_network(loopback, tmp_path):
    async with httpx.AsyncClient() as http:
        filled = await _service(http, tmp_path, loopback.url).get_candles(
            "BTCUSDT", "1", NOW - DAY, NOW
        )
    offline = NoNetwork()
    async with httpx.AsyncClient(transport=offline) as http:
        md = _service(http, tmp_path, "http://bybit.invalid")
        again = await md.get_candles("BTCUSDT", "1", NOW - DAY, NOW)
        part = await md.get_candles("BTCUSDT", "1", NOW - DAY // 2, NOW - DAY // 4)
        report = await md.backfill(KEY, floor_time(NOW - DAY, "1"), LAST_CLOSED)
    assert offline.requests == []
    assert again.equals(filled) and len(part) == DAY // 4 // MIN + 1
    assert report.complete and report.missing == 0 and report.stored == len(filled)


@pytest.mark.parametrize(
    ("error", "raised"),
    [(httpx.ConnectError, M.ExchangeUnreachableError), (httpx.ReadError, M.ExchangeTimeoutError)],
    ids=["network-gone", "connection-dropped"],
)
async def test_a_cut_backfill_reports_stored_and_missing_then_resumes(
    loopback, tmp_path, error, raised
):
    start = floor_time(NOW - 3 * DAY + DAY // 2, "1")
    wanted = opens_between(start, LAST_CLOSED, "1")
    cut = CutTransport(allow=4, error=error)  # instruments, time, then two pages of 1000
    async with httpx.AsyncClient(transport=cut) as http:
        md = _service(http, tmp_path, loopback.url)
        report = await md.backfill(KEY, start, LAST_CLOSED)
    assert cut.cut >= 1 and isinstance(report.error, raised)
    assert not report.complete
    assert report.stored == 2000 and report.missing == wanted - 2000
    assert report.last == LAST_CLOSED and report.first == LAST_CLOSED - 1999 * MIN
    assert report.note.startswith("incomplete:") and f"{wanted - 2000:,} missing" in report.note
    async with httpx.AsyncClient() as http:
        resumed = await _service(http, tmp_path, loopback.url).backfill(KEY, start, LAST_CLOSED)
    assert resumed.complete and resumed.error is None
    assert resumed.stored == wanted and resumed.added == wanted - 2000
    assert resumed.note.startswith("complete:")


async def test_history_starting_after_the_asked_start_is_complete_and_said(loopback, tmp_path):
    async with httpx.AsyncClient() as http:
        report = await _service(http, tmp_path, loopback.url).backfill(
            M.DatasetKey.of("linear", "BTCUSDT", "60"), NOW - 10 * DAY, NOW - DAY
        )
    assert report.complete and report.reached_first_candle
    assert report.first is not None and report.first > NOW - 4 * DAY
    assert "no candles before" in report.note
    async with httpx.AsyncClient() as http:
        none = await _service(http, tmp_path, loopback.url).backfill(
            M.DatasetKey.of("linear", "BTCUSDT", "60"), NOW - 20 * DAY, NOW - 10 * DAY
        )
    assert none.complete and none.stored == 0 and "no candles in this range" in none.note


async def test_a_wrong_request_still_raises(loopback, tmp_path):
    async with httpx.AsyncClient() as http:
        md = _service(http, tmp_path, loopback.url)
        with pytest.raises(M.UnknownSymbolError):
            await md.backfill(M.DatasetKey.of("linear", "NOPEUSDT", "1"), NOW - DAY, NOW)


def test_opens_between_counts_bars_in_any_bounds():
    jan = parse_time_ms("2024-01-01")
    assert jan is not None
    assert opens_between(jan, jan + 59 * MIN, "1") == 60
    assert opens_between(jan + 1, jan + 15 * MIN, "15") == 1
    assert opens_between(jan, jan + 366 * DAY, "M") == 13  # 2024 is a leap year
    assert opens_between(jan + 1, jan + 31 * DAY, "M") == 1
    assert opens_between(jan + 5, jan, "1") == 0
