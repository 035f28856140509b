"""Every fault of the fake stream: the client reconnects (or rides it out) and the store
then holds every closed candle of the period exactly once, with REST's values."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx
import pytest
from live_testkit import FAST, MIN, Live, assert_store_matches_rest, live_env, wait_for

from market import DatasetKey, FakeStreamConfig, Fault, WsFault

KEY = DatasetKey.of("linear", "BTCUSDT", "1")


def closed_after(live: Live, n: int) -> bool:
    return len(live.closed_starts(KEY)) >= n


async def run_through(live: Live, *faults: WsFault, reconnect: bool) -> None:
    """Stream a few candles, inject, wait for the reconnection, stream a few more candles."""
    await wait_for(lambda: closed_after(live, 3) and live.connected(), what="3 closed candles")
    before = live.reconnects()
    live.ws.inject(*faults)
    if reconnect:
        await wait_for(lambda: live.reconnects() > before and live.connected(), what="reconnection")
    mark = live.clock()
    await wait_for(
        lambda: bool(live.closed_starts(KEY)) and live.closed_starts(KEY)[-1] >= mark + 2 * MIN,
        what="candles after the fault",
    )


@pytest.mark.parametrize(
    "fault",
    [
        WsFault(kind="drop"),
        WsFault(kind="close", code=1000),
        WsFault(kind="close", code=1001),
        WsFault(kind="close", code=1011),
        WsFault(kind="close", code=1012),
        WsFault(kind="close", code=4000),
        WsFault(kind="stall", duration_s=3.0),
        WsFault(kind="ignore_pings", duration_s=3.0),
    ],
    ids=lambda f: f"{f.kind}-{f.code}" if f.kind == "close" else f.kind,
)
async def test_connection_faults_reconnect_and_lose_no_candle(
    tmp_path: Path, fault: WsFault
) -> None:
    async with live_env(tmp_path) as live:
        await run_through(live, fault, reconnect=True)
        await assert_store_matches_rest(live, KEY)
        assert live.stream.status().malformed == 0


async def test_clock_jump_during_a_drop_is_repaired_from_rest(tmp_path: Path) -> None:
    async with live_env(tmp_path) as live:
        await wait_for(lambda: closed_after(live, 3), what="3 closed candles")
        live.ws.inject(WsFault(kind="stall", duration_s=2.0))
        live.clock.jump(10 * MIN)  # ten candles close while the client is cut off
        await run_through(live, WsFault(kind="drop"), reconnect=True)
        checked = await assert_store_matches_rest(live, KEY)
        assert checked >= 15
        status = live.stream.status()
        assert status.repaired_candles >= 9
        rest = [
            e for e in live.published.on("bybit:candle:linear:BTCUSDT:1") if e["source"] == "rest"
        ]
        assert len(rest) >= 9 and all(e["closed"] for e in rest)


@pytest.mark.parametrize("status", [403, 429, 503])
async def test_rejected_handshakes_are_retried(tmp_path: Path, status: int) -> None:
    async with live_env(tmp_path) as live:
        await run_through(
            live,
            WsFault(kind="reject_handshake", status=status, times=2),
            WsFault(kind="drop"),
            reconnect=True,
        )
        assert live.ws.rejected_handshakes == 2
        assert live.reconnects() >= 3
        await assert_store_matches_rest(live, KEY)


async def test_skipped_confirm_is_closed_by_rollover_and_rest(tmp_path: Path) -> None:
    async with live_env(tmp_path) as live:
        await run_through(live, WsFault(kind="skip_confirm", times=2), reconnect=False)
        await assert_store_matches_rest(live, KEY)
        assert live.stream.status().repaired_candles >= 2
        assert live.reconnects() == 0


async def test_duplicate_confirm_is_stored_and_published_once(tmp_path: Path) -> None:
    async with live_env(tmp_path) as live:
        await run_through(live, WsFault(kind="duplicate_confirm", times=3), reconnect=False)
        await assert_store_matches_rest(live, KEY)
        closed = [
            e["start"] for e in live.published.on("bybit:candle:linear:BTCUSDT:1") if e["closed"]
        ]
        assert len(closed) == len(set(closed))


async def test_malformed_frames_are_counted_not_fatal(tmp_path: Path) -> None:
    async with live_env(tmp_path) as live:
        await run_through(live, WsFault(kind="malformed", times=10), reconnect=False)
        assert live.stream.status().malformed == 10
        assert live.reconnects() == 0
        await assert_store_matches_rest(live, KEY)


async def test_delayed_and_silent_stream_still_loses_nothing(tmp_path: Path) -> None:
    async with live_env(tmp_path) as live:
        await run_through(
            live,
            WsFault(kind="delay", delay_s=0.2, duration_s=2.0),
            WsFault(kind="silence", duration_s=2.0),
            reconnect=False,
        )
        await assert_store_matches_rest(live, KEY)


async def test_a_server_that_accepts_then_drops_is_not_redialled_in_a_tight_loop(
    tmp_path: Path,
) -> None:
    config = FAST.model_copy(update={"min_dial_interval_s": 0.5, "backoff_initial_s": 0.5})
    async with live_env(tmp_path, config=config) as live:
        await run_through(live, WsFault(kind="drop", times=6), reconnect=True)
        dials = live.ws.handshake_times
        assert len(dials) >= 6
        gaps = [b - a for a, b in itertools.pairwise(dials)]
        assert min(gaps) >= 0.45  # asyncio.sleep never wakes early: a floor, not a timing race
        await assert_store_matches_rest(live, KEY)


async def test_candles_rest_lacks_are_recorded_as_gaps_and_filled_by_a_late_confirm(
    tmp_path: Path,
) -> None:
    # Our clock runs 10 minutes ahead of the exchange: every open candle looks overdue, so
    # its REST repair comes back empty (REST does not count it closed yet), is asked once
    # more, then recorded as a gap; its confirm, arriving later, fills it. Nothing invented.
    config = FAST.model_copy(update={"close_grace_ms": 0, "repair_retry_s": 0.2})
    async with live_env(tmp_path, config=config, clock_skew_ms=10 * MIN) as live:
        await wait_for(lambda: closed_after(live, 4), what="4 closed candles")
        await wait_for(lambda: len(live.stream.status().gaps) >= 2, what="recorded gaps")
        gaps = live.stream.status().gaps
        assert all(g.end == g.start + MIN - 1 and g.symbol == "BTCUSDT" for g in gaps)
        await assert_store_matches_rest(live, KEY)


async def test_faults_can_be_injected_over_http(tmp_path: Path) -> None:
    async with live_env(tmp_path) as live:
        await wait_for(lambda: closed_after(live, 2) and live.connected(), what="2 closed candles")
        async with httpx.AsyncClient() as http:
            bad = await http.post(f"{live.rest.url}/__fake__/ws-faults", json={"kind": "nope"})
            assert bad.status_code == 422
            res = await http.post(f"{live.rest.url}/__fake__/ws-faults", json=[{"kind": "drop"}])
        assert res.json() == {"injected": 1, "connections": 1}
        await wait_for(lambda: live.reconnects() >= 1 and live.connected(), what="reconnection")


async def test_idle_cut_by_the_server_reconnects(tmp_path: Path) -> None:
    # The fake cuts connections that send no ping for idle_timeout_s; ours pings every
    # 0.5 s, so only a stall of our pings would trip it: check the cut is survived.
    config = FakeStreamConfig(push_interval_s=0.1, idle_timeout_s=0.3)
    async with live_env(tmp_path, stream_config=config) as live:
        await wait_for(lambda: live.reconnects() >= 1 and closed_after(live, 4), what="an idle cut")
        await assert_store_matches_rest(live, KEY)


async def test_a_failed_rest_repair_is_retried_until_the_store_is_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with live_env(tmp_path) as live:
        await wait_for(lambda: closed_after(live, 3) and live.connected(), what="3 closed candles")
        # REST answers 503 for a while: the repairs of the skipped confirms fail, wait, retry.
        live.fake.faults.push(Fault(kind="http_5xx", times=12, path="/v5/market/kline"))
        await run_through(live, WsFault(kind="skip_confirm", times=3), reconnect=False)
        await wait_for(lambda: not live.fake.faults.pending(), what="the REST faults to be served")
        mark = live.clock()
        await wait_for(lambda: live.closed_starts(KEY)[-1] >= mark + 2 * MIN, what="more candles")
        await assert_store_matches_rest(live, KEY)
        assert live.stream.status().repaired_candles >= 3
        assert any("will retry" in r.getMessage() for r in caplog.records)
