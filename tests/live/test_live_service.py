"""The live service in the server: watch_market and list_datasets through the SDK client,
`serve` starting the stream (BYBIT_WS_ENABLED=1) with /health and /metrics, and the
`bybit-tester live` CLI against the fake stream."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from live_testkit import FAST, SPEED, START, live_env, wait_for
from market_testkit import small_instruments
from mcp import Client
from relay_testkit import live_settings
from servers_testkit import free_port

import market as M
from mcp_server.context import AppContext
from mcp_server.http import build_http_app
from mcp_server.server import build_server
from mcp_server.settings import RouterSettings, ServerSettings, Settings

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Fakes:
    clock: M.FakeClock
    rest: M.ServerThread
    ws: M.FakeStream


@contextmanager
def fakes(start: int | None = None, speed: float = 1.0) -> Iterator[Fakes]:
    """REST + stream fakes, by default on the wall clock (for a process that cannot share
    our clock)."""
    clock = M.FakeClock(start, speed=speed)
    fake = M.FakeBybit(M.FakeBybitConfig(instruments=small_instruments()), clock=clock)
    rest = M.ServerThread(fake.app).start()
    ws = M.FakeStream(fake, M.FakeStreamConfig(push_interval_s=0.1)).start()
    try:
        yield Fakes(clock, rest, ws)
    finally:
        ws.stop()
        rest.stop()


def _settings(tmp: Path, f: Fakes, **live: object) -> Settings:
    server = ServerSettings(_env_file=None, data_dir=tmp / "store", cache_url="memory://",  # type: ignore[call-arg]
                            bybit_base_url=f.rest.url)  # fmt: skip
    return Settings(server, RouterSettings(_env_file=None),  # type: ignore[call-arg]
                    live=live_settings(url=f.ws.url, fanout_url="memory://", **live))  # fmt: skip


async def test_watch_market_and_list_datasets_through_the_sdk_client(tmp_path: Path) -> None:
    with fakes() as f:
        settings = _settings(tmp_path, f, intervals=["1", "5"])
        context = AppContext(settings)
        server, _ = build_server(settings, context=context)
        async with Client(server) as client:
            r = await client.call_tool("watch_market", {"symbol": "BTCUSDT"})
            assert r.is_error and "BYBIT_WS_ENABLED=1" in r.content[0].text  # type: ignore[union-attr]
            stream = await context.live.start(context.market().client, config=FAST, clock=f.clock)  # type: ignore[arg-type]
            try:
                await wait_for(lambda: stream.ticker("linear", "BTCUSDT") is not None
                               and stream.latest_candle("linear", "BTCUSDT", "5") is not None, 60)  # fmt: skip
                r = await client.call_tool(
                    "watch_market", {"symbol": "BTCUSDT", "intervals": ["1", "5"]}
                )
                assert not r.is_error, r.content
                body = r.structured_content
                assert body is not None
                assert [c["interval"] for c in body["candles"]] == ["1", "5"]
                assert all(c["age_s"] is not None and c["age_s"] < 60 for c in body["candles"])
                assert float(body["ticker"]["lastPrice"]) > 0 and body["ticker_age_s"] is not None
                assert body["connections"][0]["state"] == "connected"
                listed = (await client.call_tool("list_datasets", {})).structured_content
                assert listed is not None
                assert "bybit:candle:linear:BTCUSDT:5" in listed["live"]
            finally:
                await context.live.stop()


async def test_watch_market_reads_a_stream_running_in_another_process(
    tmp_path: Path, redis_url: str
) -> None:
    fanout = M.RedisFanout(redis_url)
    async with live_env(tmp_path, publish=fanout.publish):  # the worker, as `bybit-tester live`
        settings = Settings(
            ServerSettings(_env_file=None, data_dir=tmp_path / "srv", cache_url="memory://"),  # type: ignore[call-arg]
            RouterSettings(_env_file=None),  # type: ignore[call-arg]
            live=live_settings(fanout_url=redis_url),
        )
        server, context = build_server(settings)
        async with Client(server) as client:
            args = {"symbol": "BTCUSDT", "intervals": ["1"]}
            r = await client.call_tool("watch_market", args)
            deadline = time.monotonic() + 60
            while r.is_error:  # the first call starts reading the fan-out
                assert "bybit-tester live" in r.content[0].text  # type: ignore[union-attr]
                assert time.monotonic() < deadline, r.content
                await asyncio.sleep(0.2)
                r = await client.call_tool("watch_market", args)
            body = r.structured_content
            assert body is not None and body["candles"][0]["interval"] == "1"
            assert body["candles"][0]["age_s"] < 60
        await context.live.stop()
    await fanout.aclose()


async def test_a_listened_klines_resource_is_notified_on_each_closed_candle(tmp_path: Path) -> None:
    with fakes(START, speed=SPEED) as f:
        settings = _settings(tmp_path, f)
        context = AppContext(settings)
        server, _ = build_server(settings, context=context)
        uri = "klines://linear/BTCUSDT/1"
        async with Client(server) as client:
            await context.live.start(context.market().client, config=FAST, clock=f.clock)  # type: ignore[arg-type]
            try:
                async with client.listen(
                    resource_subscriptions=[uri, "klines://linear/ETHUSDT/1"]
                ) as sub:
                    events = []
                    async with asyncio.timeout(60):
                        async for event in sub:
                            events.append(event)
                            if len(events) == 2:
                                break
                assert {getattr(e, "uri", None) for e in events} == {uri}
                # what a notified client re-reads: the closed candles are in the store
                assert len(context.store.load(M.DatasetKey.of("linear", "BTCUSDT", "1"))) >= 2
            finally:
                await context.live.stop()


async def test_legacy_resources_subscribe_is_notified(tmp_path: Path) -> None:
    from mcp_server.live_subscriptions import KlineWatchers

    class Session:
        def __init__(self) -> None:
            self.updated: list[str] = []

        async def send_resource_updated(self, uri: str) -> None:
            self.updated.append(uri)

    watchers, one, gone = KlineWatchers(), Session(), Session()
    assert watchers.watch("klines://linear/BTCUSDT/1?limit=5", one)
    assert not watchers.watch("backtest://x/trades", one)
    gone.send_resource_updated = None  # type: ignore[assignment,method-assign]  # a closed session
    watchers.watch("klines://linear/BTCUSDT/1", gone)
    watchers("bybit:candle:linear:BTCUSDT:1", {})
    watchers("bybit:candle:linear:ETHUSDT:1", {})
    await asyncio.sleep(0.05)
    assert one.updated == ["klines://linear/BTCUSDT/1?limit=5"]
    watchers.unwatch("klines://linear/BTCUSDT/1?limit=5", one)
    watchers("bybit:candle:linear:BTCUSDT:1", {})
    await asyncio.sleep(0.05)
    assert one.updated == ["klines://linear/BTCUSDT/1?limit=5"]


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def test_serve_starts_the_stream_when_enabled(tmp_path: Path) -> None:
    with fakes() as f:
        settings = _settings(tmp_path, f, enabled=True)
        port = free_port()
        app = build_http_app(settings, host="127.0.0.1", port=port)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="on"))  # fmt: skip
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                health: dict[str, object] = {}

                async def ready() -> bool:
                    nonlocal health
                    try:
                        health = (await http.get("/health")).json()["live"]
                    except httpx.HTTPError:
                        return False
                    conns = health.get("connections") or []
                    return (
                        bool(conns)
                        and conns[0]["state"] == "connected"
                        and (  # type: ignore[index]
                            conns[0]["last_message_age_s"] is not None  # type: ignore[index]
                        )
                    )

                deadline = time.monotonic() + 60
                while not await ready():
                    assert time.monotonic() < deadline, health
                    await asyncio.sleep(0.2)
                assert health["running"] is True
                deadline = time.monotonic() + 60
                while _metric((await http.get("/metrics")).text, "bst_live_messages_total") == 0:
                    assert time.monotonic() < deadline, "no live messages counted in /metrics"
                    await asyncio.sleep(0.3)
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 30)
        assert not thread.is_alive()


def test_live_cli_streams_from_the_fake_and_shows_status(tmp_path: Path) -> None:
    with fakes() as f:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BST_", "BYBIT_", "REDIS"))}
        env |= {"BST_BYBIT_BASE_URL": f.rest.url, "BST_DATA_DIR": str(tmp_path / "store"),
                "BST_LIVE_FANOUT_URL": "memory://", "COLUMNS": "300"}  # fmt: skip
        cmd = [sys.executable, "-c", "from mcp_server.cli import main; main()", "live",
               "--symbols", "BTCUSDT,NOPEUSDT", "--intervals", "1,5", "--url", f.ws.url,
               "--seconds", "6"]  # fmt: skip
        proc = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("connections")]
    assert lines, proc.stdout
    last = lines[-1]
    assert "connections 1/1" in last and "msg/s" in last and "reconnects 0" in last
    assert "linear:BTCUSDT:1" in last and "linear:BTCUSDT:5" in last
    assert "rejected" in last  # NOPEUSDT: logged and reported, the rest streams on
    assert "NOPEUSDT" in proc.stderr and "Traceback" not in proc.stderr
