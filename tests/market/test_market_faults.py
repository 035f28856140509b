"""Every injected fault: retried the right number of times, right error class, no loop on 403."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx
from market_testkit import DAY, MIN, NOW, SleepRecorder, fast_config, small_instruments

from market import (
    BybitClient,
    ExchangeTimeoutError,
    ExchangeUnavailableError,
    FakeBybitConfig,
    Fault,
    InvalidRequestError,
    IPBannedError,
    MalformedResponseError,
    RateLimitedError,
)

KLINE = "/v5/market/kline"


async def one_page(client: BybitClient):
    return await client.get_klines("BTCUSDT", "1", end=NOW - 10 * MIN, limit=5)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="http_429", times=2),
        Fault(kind="http_5xx", status=502, times=2),
        Fault(kind="http_5xx", status=503, times=2),
        Fault(kind="retcode_10000", times=2),
        Fault(kind="retcode_10016", times=2),
        Fault(kind="retcode_10018", times=2),
        Fault(kind="retcode_10006", headers=False, times=2),
        Fault(kind="malformed_json", times=2),
    ],
    ids=lambda f: f"{f.kind}-{f.status}",
)
async def test_transient_fault_retried_then_succeeds(loopback, make_client, fault):
    loopback.fake.faults.push(fault)
    sleeps = SleepRecorder()
    async with make_client(loopback.url, sleep=sleeps) as client:
        page = await one_page(client)
    assert len(page) == 5
    assert loopback.fake.requests[KLINE] == 3  # 2 faults + 1 success
    assert len(sleeps.calls) == 2 and all(0 <= s <= 0.02 for s in sleeps.calls)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("http_429", RateLimitedError),
        ("http_5xx", ExchangeUnavailableError),
        ("retcode_10016", ExchangeUnavailableError),
        ("retcode_10006", RateLimitedError),
        ("malformed_json", MalformedResponseError),
    ],
)
async def test_persistent_fault_exhausts_attempts_with_its_class(
    loopback, make_client, kind, error
):
    loopback.fake.faults.push(Fault(kind=kind, times=50, headers=False))
    async with make_client(loopback.url, max_attempts=3, sleep=SleepRecorder()) as client:
        with pytest.raises(error):
            await one_page(client)
    assert loopback.fake.requests[KLINE] == 3


async def test_10006_reset_header_in_future_is_waited_for(loopback, make_client):
    loopback.fake.faults.push(Fault(kind="retcode_10006", headers=True, reset_in_ms=3_000))
    sleeps = SleepRecorder()
    async with make_client(loopback.url, sleep=sleeps) as client:
        await one_page(client)
    assert 2.0 < sleeps.calls[0] <= 3.0 and all(s <= 3.0 for s in sleeps.calls)
    assert loopback.fake.requests[KLINE] == 2


async def test_10006_reset_header_in_past_means_no_wait(loopback, make_client):
    loopback.fake.faults.push(Fault(kind="retcode_10006", headers=True, reset_in_ms=-5_000))
    sleeps = SleepRecorder()
    async with make_client(loopback.url, sleep=sleeps) as client:
        await one_page(client)
    assert sleeps.calls == [0.0]
    assert loopback.fake.requests[KLINE] == 2


async def test_10006_reset_wait_is_capped(loopback, make_client):
    loopback.fake.faults.push(Fault(kind="retcode_10006", headers=True, reset_in_ms=3_600_000))
    sleeps = SleepRecorder()
    async with make_client(loopback.url, sleep=sleeps, max_reset_wait_s=1.5) as client:
        await one_page(client)
    assert sleeps.calls[0] == 1.5 and all(s <= 1.5 for s in sleeps.calls)


async def test_delay_past_timeout_is_retried(loopback, make_client):
    loopback.fake.faults.push(Fault(kind="delay", delay_s=1.0))
    async with make_client(loopback.url, timeout_s=0.2, sleep=SleepRecorder()) as client:
        page = await one_page(client)
    assert len(page) == 5 and loopback.fake.requests[KLINE] == 2


async def test_persistent_timeouts_raise_timeout_error(loopback, make_client):
    loopback.fake.faults.push(Fault(kind="delay", delay_s=0.6, times=2))
    async with make_client(
        loopback.url, timeout_s=0.15, max_attempts=2, sleep=SleepRecorder()
    ) as client:
        with pytest.raises(ExchangeTimeoutError):
            await one_page(client)


async def test_403_raises_cooldown_and_is_never_retried(loopback, make_client):
    loopback.fake.faults.push(Fault(kind="http_403"))
    sleeps = SleepRecorder()
    async with make_client(loopback.url, sleep=sleeps, ban_cooldown_s=600) as client:
        with pytest.raises(IPBannedError) as info:
            await one_page(client)
        assert info.value.cooldown_s == 600
        with pytest.raises(IPBannedError):  # the cool-down holds without touching the server
            await one_page(client)
    assert loopback.fake.requests[KLINE] == 1 and sleeps.calls == []


async def test_tripping_the_ip_window_bans_and_stops_all_windows(make_server, make_client):
    cfg = FakeBybitConfig(instruments=small_instruments(), ip_limit=3, ip_window_s=5.0, ban_s=60.0)
    srv = make_server(cfg)
    async with make_client(
        srv.url, window_limit=600, concurrency=4, sleep=SleepRecorder()
    ) as client:
        with pytest.raises(IPBannedError):
            await client.fetch_candles("BTCUSDT", "1", NOW - 2 * DAY, validate=False, on_page=None)
    stats = srv.fake.stats()
    assert stats["bans"] == 1
    assert stats["rejected"] <= 4  # at most the requests already in flight; no retry loop


async def test_client_window_cap_keeps_below_the_ip_limit(make_server, make_client):
    cfg = FakeBybitConfig(instruments=small_instruments(), ip_limit=10, ip_window_s=1.0, ban_s=60.0)
    srv = make_server(cfg)
    async with make_client(srv.url, window_limit=9, window_s=1.0, concurrency=4) as client:
        _got, progress = await client.fetch_candles(
            "BTCUSDT", "1", NOW - 2 * DAY - 6 * 3600_000, validate=False
        )
    assert srv.fake.stats()["bans"] == 0 and progress.requests == 4 + 1 - 1


async def test_10001_is_not_retried(loopback, make_client):
    async with make_client(loopback.url, sleep=SleepRecorder()) as client:
        with pytest.raises(InvalidRequestError):
            await client.get_klines("BTCUSDT", "1", category="option")
        assert loopback.fake.requests[KLINE] == 1
        with pytest.raises(InvalidRequestError):  # a range: each window fails once, none retries
            await client.fetch_candles(
                "BTCUSDT", "1", NOW - 3 * DAY, validate=False, category="option"
            )
    assert loopback.fake.requests[KLINE] <= 1 + 4


def test_control_endpoint_queues_faults(loopback):
    r = httpx.post(
        loopback.url + "/__fake__/faults", json=[{"kind": "http_429", "times": 2, "path": KLINE}]
    )
    assert r.status_code == 200 and r.json()[0]["times"] == 2
    assert (
        httpx.get(loopback.url + KLINE, params={"symbol": "BTCUSDT", "interval": "1"}).status_code
        == 429
    )
    assert httpx.get(loopback.url + "/v5/market/time").status_code == 200  # other paths unaffected
    stats = httpx.get(loopback.url + "/__fake__/stats").json()
    assert stats["faults_served"] == 1 and stats["faults_pending"] == 1
    httpx.delete(loopback.url + "/__fake__/faults")
    assert (
        httpx.get(loopback.url + KLINE, params={"symbol": "BTCUSDT", "interval": "1"}).status_code
        == 200
    )


# ---- single response shapes: respx is enough -------------------------------------------
BASE = "https://bybit.test"


def envelope(result: dict, code: int = 0, msg: str = "OK") -> dict:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": NOW}


@respx.mock
@pytest.mark.parametrize("msg", ["OK", "success", "SUCCESS", ""])
async def test_all_success_messages_accepted(msg):
    respx.get(BASE + "/v5/market/time").respond(
        json=envelope({"timeSecond": "1", "timeNano": "1000000000"}, msg=msg)
    )
    async with httpx.AsyncClient() as http:
        assert await BybitClient(http, fast_config(BASE)).server_time_ms() == 1000


@respx.mock
async def test_http_404_is_invalid_request_not_retried():
    route = respx.get(BASE + KLINE).respond(404, text="not found")
    async with httpx.AsyncClient() as http:
        with pytest.raises(InvalidRequestError):
            await one_page(BybitClient(http, fast_config(BASE)))
    assert route.call_count == 1


@respx.mock
async def test_connection_error_is_retried():
    route = respx.get(BASE + KLINE)
    route.side_effect = [
        httpx.ConnectError("refused"),
        httpx.Response(200, json=envelope({"list": []})),
    ]
    async with httpx.AsyncClient() as http:
        page = await one_page(BybitClient(http, fast_config(BASE), sleep=SleepRecorder()))
    assert len(page) == 0 and route.call_count == 2


@respx.mock
async def test_rows_out_of_order_or_duplicated_are_normalised():
    rows = [
        ["3", "1", "1", "1", "1", "1", "1"],
        ["1", "1", "1", "1", "1", "1", "1"],
        ["3", "2", "2", "2", "2", "2", "2"],
    ]
    respx.get(BASE + KLINE).respond(json=envelope({"list": rows}))
    async with httpx.AsyncClient() as http:
        page = await one_page(BybitClient(http, fast_config(BASE)))
    assert page.time.tolist() == [1, 3]


async def test_limiter_spaces_requests():
    from market import RateLimiter

    ticks: list[float] = []
    now = [0.0]
    limiter = RateLimiter(10.0, clock=lambda: now[0])

    async def fake_sleep(s: float) -> None:
        now[0] += s

    import market._limiter as lim

    orig = lim.asyncio.sleep
    lim.asyncio.sleep = fake_sleep  # type: ignore[assignment]
    try:
        for _ in range(5):
            await limiter.acquire()
            ticks.append(now[0])
    finally:
        lim.asyncio.sleep = orig  # type: ignore[assignment]
    assert ticks == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    await asyncio.sleep(0)


async def test_limiter_burst_makes_up_late_wakeups_within_bounds():
    """A bucket of a few tokens recovers the time a busy loop wakes up late, never more."""
    from market import RateLimiter

    now = [0.0]
    limiter = RateLimiter(10.0, burst=4.0, window_limit=30, window_s=5.0, clock=lambda: now[0])

    async def late_sleep(s: float) -> None:
        now[0] += s + 0.03  # every wake-up is 30 ms late

    import market._limiter as lim

    orig = lim.asyncio.sleep
    lim.asyncio.sleep = late_sleep  # type: ignore[assignment]
    ticks: list[float] = []
    try:
        for _ in range(28):
            await limiter.acquire()
            ticks.append(now[0])
            now[0] += 0.001  # the request itself
    finally:
        lim.asyncio.sleep = orig  # type: ignore[assignment]
    # 28 requests at 10/s with 4 tokens up front: ~2.4 s despite the lateness (a bucket of
    # one token would have taken 27 x 0.13 = 3.5 s).
    assert ticks[-1] < 2.4 + 0.2
    for i, t in enumerate(ticks):  # never more than burst + rate * elapsed
        assert i + 1 <= 4 + 10.0 * t + 1e-6
    await asyncio.sleep(0)


@respx.mock
async def test_a_server_without_the_synthetic_header_is_market_data():
    respx.get(BASE + "/v5/market/time").respond(
        json=envelope({"timeSecond": "1", "timeNano": "1000000000"})
    )
    async with httpx.AsyncClient() as http:
        client = BybitClient(http, fast_config(BASE))
        await client.server_time_ms()
        assert not client.synthetic
