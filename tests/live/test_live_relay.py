"""The relay with real parts: fake stream on loopback -> LiveStream -> redis-server ->
/api/v1/live under uvicorn -> a `websockets` client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from live_testkit import assert_store_matches_rest, live_env, wait_for
from redis_testkit import RestartableRedis, own_redis
from relay_testkit import events, raw_handshake, relay_server, stuck_client, subscribe
from servers_testkit import free_port
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from market import DatasetKey, RedisFanout, candle_channel

pytestmark = pytest.mark.redis

CHANNEL = candle_channel("linear", "BTCUSDT", "1")
KEY = DatasetKey.of("linear", "BTCUSDT", "1")


async def _closed_candle(conn: object, *, after: int = 0) -> dict[str, object]:
    async def first() -> dict[str, object]:
        while True:
            msg = await events(conn)  # type: ignore[arg-type]
            if msg.get("kind") == "candle" and msg["closed"] and int(msg["start"]) > after:  # type: ignore[arg-type]
                return msg

    # tickers keep arriving when no candle does: bound the whole wait, not each message
    return await asyncio.wait_for(first(), 120)


async def test_candles_arrive_at_the_client_through_redis(tmp_path: Path, redis_url: str) -> None:
    fanout = RedisFanout(redis_url)
    with relay_server(tmp_path, redis_url) as relay:
        conn = await subscribe(relay, [CHANNEL, "bybit:ticks"])
        try:
            async with live_env(tmp_path, publish=fanout.publish) as live:
                candle = await _closed_candle(conn)
                assert candle["v"] == 1 and candle["symbol"] == "BTCUSDT"
                # stored before published: the store already holds it
                assert int(candle["start"]) in live.closed_starts(KEY)  # type: ignore[call-overload]
                await wait_for(lambda: relay.metric("bst_live_delay_seconds_count") > 0, 30)
        finally:
            await conn.close()
            await fanout.aclose()


async def test_a_client_that_never_reads_does_not_hold_up_the_others(
    tmp_path: Path, redis_url: str
) -> None:
    fanout = RedisFanout(redis_url)
    payload = "x" * 16_000
    n = 1000
    with relay_server(tmp_path, redis_url, queue_size=100) as relay:
        # max_queue=1: the client library stops reading the socket, as a stuck browser tab would
        stuck = await asyncio.to_thread(stuck_client, relay, "bybit:ticks")
        fast = await subscribe(relay, ["bybit:ticks"], max_size=2**20)
        seen: set[int] = set()

        async def read_until_last() -> None:
            while True:
                msg = json.loads(await asyncio.wait_for(fast.recv(), 60))
                if msg.get("kind") == "test":
                    seen.add(msg["i"])
                    if msg["i"] >= n:
                        return

        reader = asyncio.create_task(read_until_last())
        try:
            for i in range(n):
                await fanout.publish(
                    "bybit:ticks", json.dumps({"v": 1, "kind": "test", "i": i, "pad": payload})
                )
                if i % 5 == 0:  # ~8 MB/s: a reader keeps up even on a loaded machine
                    await asyncio.sleep(0.01)
            # pub/sub is fire-and-forget: repeat the end marker until the reader has it
            while not reader.done():
                await fanout.publish("bybit:ticks", json.dumps({"v": 1, "kind": "test", "i": n}))
                await asyncio.wait([reader], timeout=0.5)
            await reader
            assert len(seen) >= n // 2, f"the reading client got only {len(seen)} of {n}"
            await wait_for(lambda: relay.metric("bst_live_relay_dropped_total") > 0, 60,
                           "drops for the stuck client")  # fmt: skip
            assert relay.get("/health").json()["live"]["relay_dropped"] > 0
        finally:
            reader.cancel()
            await fast.close()
            stuck.close()
            await fanout.aclose()


async def test_token_in_query_header_or_first_message(tmp_path: Path) -> None:
    token = "s3cret-relay-token"
    with relay_server(tmp_path, "memory://", token=token) as relay:
        ok = await subscribe(relay, ["bybit:ticks"], query=f"&token={token}")
        await ok.close()
        ok = await subscribe(
            relay, ["bybit:ticks"], additional_headers={"Authorization": f"Bearer {token}"}
        )
        await ok.close()
        conn = await connect(f"{relay.ws}?channel=bybit:ticks", open_timeout=30)
        await conn.send(json.dumps({"token": token}))
        assert json.loads(await asyncio.wait_for(conn.recv(), 30))["kind"] == "subscribed"
        await conn.close()
        for query, first in (("&token=wrong", None), ("", '{"hello": 1}'), ("", "not json")):
            conn = await connect(f"{relay.ws}?channel=bybit:ticks{query}", open_timeout=30)
            if first is not None:
                await conn.send(first)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(conn.recv(), 30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
            assert "token" in closed.value.rcvd.reason and token not in closed.value.rcvd.reason


async def test_a_client_that_never_sends_its_token_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mcp_server.http.live as relay_module

    monkeypatch.setattr(relay_module, "AUTH_TIMEOUT_S", 0.5)
    with relay_server(tmp_path, "memory://", token="t0ken-never-sent") as relay:
        conn = await connect(f"{relay.ws}?channel=bybit:ticks", open_timeout=30)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(conn.recv(), 30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_host_and_origin_are_checked_on_the_websocket_route(tmp_path: Path) -> None:
    with relay_server(tmp_path, "memory://") as relay:
        port = relay.server.port
        ok = await asyncio.to_thread(raw_handshake, port, host=f"127.0.0.1:{port}",
                                     origin="http://localhost:5173")  # fmt: skip
        assert " 101 " in ok
        bad_host = await asyncio.to_thread(raw_handshake, port, host="evil.example")
        bad_origin = await asyncio.to_thread(raw_handshake, port, host=f"127.0.0.1:{port}",
                                             origin="https://evil.example")  # fmt: skip
        assert " 403 " in bad_host and " 403 " in bad_origin
        with pytest.raises(InvalidStatus):
            await connect(f"{relay.ws}?channel=bybit:ticks", origin="https://evil.example",  # type: ignore[arg-type]
                          open_timeout=30)  # fmt: skip


async def test_unknown_or_missing_channels_are_refused(tmp_path: Path) -> None:
    with relay_server(tmp_path, "memory://") as relay:
        listed = relay.get("/api/v1/live/channels").json()["channels"]
        assert CHANNEL in listed and "bybit:ticks" in listed
        for query, code, words in (("?channel=bybit:candle:linear:NOPE:1", 4404, "unknown channel"),
                                   ("", 4400, "channel=")):  # fmt: skip
            conn = await connect(relay.ws + query, open_timeout=30)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(conn.recv(), 30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == code
            assert words in closed.value.rcvd.reason


async def test_relay_pings_and_answers_pings(tmp_path: Path) -> None:
    with relay_server(tmp_path, "memory://", ping_s=0.2) as relay:
        conn = await subscribe(relay, ["bybit:ticks"])
        kinds = {json.loads(await asyncio.wait_for(conn.recv(), 30))["kind"]}
        await conn.send('{"op":"ping"}')
        while "pong" not in kinds:
            kinds.add(json.loads(await asyncio.wait_for(conn.recv(), 30))["kind"])
        assert "ping" in kinds
        await conn.close()


async def test_the_stream_worker_survives_redis_restarting(
    tmp_path: Path, own_redis: RestartableRedis
) -> None:
    fanout = RedisFanout(own_redis.url, retry_s=0.2)
    with relay_server(tmp_path, own_redis.url) as relay:
        conn = await subscribe(relay, [CHANNEL])
        try:
            async with live_env(tmp_path, publish=fanout.publish) as live:
                first = await _closed_candle(conn)
                own_redis.kill()
                stored = len(live.closed_starts(KEY))
                await wait_for(lambda: len(live.closed_starts(KEY)) >= stored + 3, 60,
                               "candles stored while Redis is down")  # fmt: skip
                assert live.stream.counters.publish_errors > 0
                own_redis.restart()
                later = await _closed_candle(conn, after=int(first["start"]))  # type: ignore[call-overload]
                assert int(later["start"]) in live.closed_starts(KEY)  # type: ignore[call-overload]
                await assert_store_matches_rest(live, KEY)
        finally:
            await conn.close()
            await fanout.aclose()


async def test_a_relay_without_its_redis_closes_with_a_reason(tmp_path: Path) -> None:
    with relay_server(tmp_path, f"redis://127.0.0.1:{free_port()}/0") as relay:
        conn = await connect(f"{relay.ws}?channel=bybit:ticks", open_timeout=30)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(conn.recv(), 30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        assert "Redis" in closed.value.rcvd.reason
        assert relay.get("/health").json()["live"]["fanout"]["ok"] is False


__all__ = ["own_redis"]  # the fixture, imported for pytest
