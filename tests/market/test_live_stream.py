"""The live stream against the fake stream on loopback: the publish contract, tickers,
rejected topics, request limits, publisher failures, restarts and the watchdog."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from live_testkit import FAST, MIN, Recorder, assert_store_matches_rest, live_env, wait_for

from market import (
    TICKS_CHANNEL,
    DatasetKey,
    FakeStreamConfig,
    LiveStream,
    TopicSpec,
    WsFault,
    channel_names,
)
from ohlcv import INTERVALS

KEY = DatasetKey.of("linear", "BTCUSDT", "1")
CANDLE_KEYS = ["v", "kind", "source", "category", "symbol", "interval", "start", "end",
               "open", "high", "low", "close", "volume", "turnover", "closed", "ts"]  # fmt: skip


async def test_events_use_the_envelope_on_their_channel_and_on_ticks(tmp_path: Path) -> None:
    seen_in_store: list[bool] = []
    recorder = Recorder()

    async with live_env(tmp_path, publish=None) as live:

        async def publish(channel: str, text: str) -> None:
            event = json.loads(text)
            if event["kind"] == "candle" and event["closed"] and channel != TICKS_CHANNEL:
                seen_in_store.append(event["start"] in live.closed_starts(KEY))
            await recorder(channel, text)

        live.stream._outlet._publish = publish  # the same stream, a checking publisher
        await wait_for(lambda: len(live.closed_starts(KEY)) >= 3, what="3 closed candles")
    candles = recorder.on("bybit:candle:linear:BTCUSDT:1")
    assert candles and all(list(e) == CANDLE_KEYS for e in candles)
    assert all(e["v"] == 1 and e["symbol"] == "BTCUSDT" and e["interval"] == "1" for e in candles)
    assert all(isinstance(e["start"], int) and isinstance(e["close"], str) for e in candles)
    assert {e["end"] - e["start"] for e in candles} == {MIN - 1}
    assert any(e["closed"] for e in candles) and any(not e["closed"] for e in candles)
    assert seen_in_store and all(seen_in_store)  # upserted before published
    tickers = recorder.on("bybit:ticker:linear:BTCUSDT")
    assert tickers and all(
        e["kind"] == "ticker" and e["data"]["symbol"] == "BTCUSDT" for e in tickers
    )
    by_channel = [t for c, t in recorder.events if c != TICKS_CHANNEL]
    on_ticks = [t for c, t in recorder.events if c == TICKS_CHANNEL]
    assert by_channel == on_ticks  # every event also on bybit:ticks, in the same order


async def test_ticker_deltas_are_merged_into_the_snapshot(tmp_path: Path) -> None:
    async with live_env(tmp_path) as live:
        await wait_for(lambda: live.ws.sent["delta"] >= 3, what="ticker deltas")
        await wait_for(lambda: len(live.published.on("bybit:ticker:linear:BTCUSDT")) >= 4)
        full = set(live.fake.ticker("linear", "BTCUSDT"))
        events = live.published.on("bybit:ticker:linear:BTCUSDT")
        assert all(set(e["data"]) == full for e in events)  # deltas never shrink the ticker
        latest = live.stream.latest_candle("linear", "btcusdt", "1m")
        assert latest is not None and latest["kind"] == "candle" and latest["interval"] == "1"
        merged = live.stream.ticker("linear", "BTCUSDT")
        assert merged is not None and set(merged) == full
        assert "markPrice" in merged and "fundingRate" in merged


async def test_unknown_symbol_and_interval_are_rejected_and_the_rest_streams(
    tmp_path: Path,
) -> None:
    specs = [TopicSpec(symbol="BTCUSDT", intervals=("1", "7")), TopicSpec(symbol="NOPEUSDT")]
    async with live_env(tmp_path, specs) as live:
        await wait_for(lambda: len(live.closed_starts(KEY)) >= 3, what="3 closed candles")
        rejected = {r.topic: r.reason for r in live.stream.status().rejected_topics}
        assert "unknown interval '7'" in rejected["kline.7.BTCUSDT"]
        assert "unknown symbol 'NOPEUSDT'" in rejected["kline.1.NOPEUSDT"]
        assert "BTCUSDT" in rejected["tickers.NOPEUSDT"]
        assert set(rejected) == {"kline.7.BTCUSDT", "kline.1.NOPEUSDT", "tickers.NOPEUSDT"}
        await assert_store_matches_rest(live, KEY)


async def test_topic_rejected_by_the_exchange_leaves_the_others_subscribed(tmp_path: Path) -> None:
    specs = [TopicSpec(symbol="BTCUSDT"), TopicSpec(symbol="ETHUSDT")]
    async with live_env(tmp_path, specs) as live:
        await wait_for(lambda: len(live.closed_starts(KEY)) >= 2 and live.connected())
        live.ws.inject(WsFault(kind="reject_topic", topic="kline.1.ETHUSDT"), WsFault(kind="drop"))
        await wait_for(lambda: bool(live.stream.status().rejected_topics), what="a rejection")
        (rej,) = live.stream.status().rejected_topics
        assert rej.topic == "kline.1.ETHUSDT" and "handler not found" in rej.reason
        mark = live.clock()
        await wait_for(
            lambda: live.closed_starts(KEY)[-1] >= mark + 2 * MIN, what="BTCUSDT candles"
        )
        await wait_for(lambda: live.stream.ticker("linear", "ETHUSDT") is not None)
        await assert_store_matches_rest(live, KEY)


async def test_spot_requests_over_ten_args_are_split(tmp_path: Path) -> None:
    specs = [TopicSpec(category="spot", symbol="BTCUSDT", intervals=tuple(INTERVALS))]  # 14 topics
    config = FAST.model_copy(update={"max_args_per_request": 14})  # too many for spot
    spot = DatasetKey.of("spot", "BTCUSDT", "1")
    async with live_env(tmp_path, specs, config=config) as live:
        await wait_for(lambda: len(live.store.load(spot)) >= 2, what="spot candles")
        sizes = [len(m["args"]) for _, m in live.ws.received if m.get("op") == "subscribe"]
        assert sizes[0] == 14 and max(sizes[1:]) <= 10 and sum(sizes[1:]) == 14
        assert live.stream.status().rejected_topics == []
        await assert_store_matches_rest(live, spot)


async def test_acks_without_our_req_id_still_match_their_requests(tmp_path: Path) -> None:
    specs = [TopicSpec(category="spot", symbol="BTCUSDT", intervals=tuple(INTERVALS))]
    config = FAST.model_copy(update={"max_args_per_request": 14})
    spot = DatasetKey.of("spot", "BTCUSDT", "1")
    fake = FakeStreamConfig(push_interval_s=0.1, ack_req_id=False)
    async with live_env(tmp_path, specs, config=config, stream_config=fake) as live:
        await wait_for(lambda: len(live.store.load(spot)) >= 2, what="spot candles")
        assert live.stream.status().rejected_topics == []
        assert live.reconnects("spot") == 0


async def test_public_trades_are_published_once_per_trade_id(tmp_path: Path) -> None:
    specs = [TopicSpec(symbol="BTCUSDT", tickers=False, trades=True)]
    async with live_env(tmp_path, specs) as live:
        await wait_for(lambda: len(live.published.on("bybit:trade:linear:BTCUSDT")) >= 3)
        events = live.published.on("bybit:trade:linear:BTCUSDT")
        ids = [t["i"] for e in events for t in e["data"]]
        assert len(ids) == len(set(ids)) and len(ids) >= 6
        assert all(
            e["kind"] == "trade" and e["v"] == 1 and e["symbol"] == "BTCUSDT" for e in events
        )
    assert "bybit:trade:linear:BTCUSDT" in channel_names("linear", ["BTCUSDT"], ["1"], trades=True)
    assert "bybit:trade:linear:BTCUSDT" not in channel_names("linear", ["BTCUSDT"], ["1"])


async def test_spot_and_inverse_candles_match_rest(tmp_path: Path) -> None:
    specs = [
        TopicSpec(category="spot", symbol="BTCUSDT"),
        TopicSpec(category="inverse", symbol="BTCUSD"),
    ]
    keys = [DatasetKey.of("spot", "BTCUSDT", "1"), DatasetKey.of("inverse", "BTCUSD", "1")]
    async with live_env(tmp_path, specs) as live:
        await wait_for(lambda: all(len(live.store.load(k)) >= 3 for k in keys), what="candles")
        assert {c.category for c in live.stream.status().connections} == {"spot", "inverse"}
        for key in keys:
            await assert_store_matches_rest(live, key)  # inverse: volume/turnover swapped back
        spot = live.published.on("bybit:ticker:spot:BTCUSDT")
        assert spot and "markPrice" not in spot[-1]["data"]


async def test_a_failing_publisher_is_counted_and_the_store_still_fills(tmp_path: Path) -> None:
    async def broken(channel: str, text: str) -> None:
        raise ConnectionError("redis is down")

    async with live_env(tmp_path, publish=broken) as live:
        await wait_for(lambda: len(live.closed_starts(KEY)) >= 3, what="3 closed candles")
        assert live.stream.status().publish_errors > 0
        assert live.reconnects() == 0
        await assert_store_matches_rest(live, KEY)


async def test_a_restart_repairs_what_it_missed_from_the_store_onwards(tmp_path: Path) -> None:
    async with live_env(tmp_path) as live:
        await wait_for(lambda: len(live.closed_starts(KEY)) >= 3, what="3 closed candles")
        live.stream.stop()
        await wait_for(lambda: not live.stream.status().running, what="the first stream to stop")
        last = live.closed_starts(KEY)[-1]
        live.clock.jump(8 * MIN)
        second = LiveStream([TopicSpec(symbol="BTCUSDT", tickers=False)], store=live.store,
                            client=live.client, publish=live.published, url=live.ws.url,
                            config=FAST, clock=live.clock)  # fmt: skip
        task = asyncio.create_task(second.run())
        try:
            await wait_for(lambda: live.closed_starts(KEY)[-1] >= last + 10 * MIN, what="repair")
            assert second.status().repaired_candles >= 8
        finally:
            second.stop()
            await asyncio.wait_for(task, 30)
        await assert_store_matches_rest(live, KEY)


async def test_the_watchdog_checks_rest_when_a_topic_falls_silent(tmp_path: Path) -> None:
    config = FAST.model_copy(update={"watchdog_s": 1.0, "close_grace_ms": 600_000})
    async with live_env(tmp_path, config=config) as live:
        await wait_for(lambda: len(live.closed_starts(KEY)) >= 2 and live.connected())
        live.ws.inject(WsFault(kind="silence", duration_s=4.0))
        await wait_for(lambda: live.stream.status().repaired_candles >= 1, what="a watchdog repair")
        resubscribes = [m for _, m in live.ws.received if m.get("op") == "subscribe"]
        assert len(resubscribes) >= 2
        mark = live.clock()
        await wait_for(lambda: live.closed_starts(KEY)[-1] >= mark + 2 * MIN)
        await assert_store_matches_rest(live, KEY)


def test_channel_names_are_the_published_channels() -> None:
    assert channel_names("linear", ["btcusdt", "ETHUSDT"], ["1m", "5"]) == [
        "bybit:ticks",
        "bybit:candle:linear:BTCUSDT:1",
        "bybit:candle:linear:BTCUSDT:5",
        "bybit:ticker:linear:BTCUSDT",
        "bybit:candle:linear:ETHUSDT:1",
        "bybit:candle:linear:ETHUSDT:5",
        "bybit:ticker:linear:ETHUSDT",
    ]
