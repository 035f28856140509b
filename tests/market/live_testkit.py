"""Real parts for live-stream tests: the REST fake under uvicorn and the fake stream on
loopback sharing one series book and a fast market clock, a real BybitClient, a
CandleStore in a temp dir, and a LiveStream publishing into a recorder."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from market_testkit import fast_config, small_instruments

from market import (
    BybitClient,
    CandleStore,
    DatasetKey,
    FakeBybit,
    FakeBybitConfig,
    FakeClock,
    FakeStream,
    FakeStreamConfig,
    LiveConfig,
    LiveStream,
    ServerThread,
    TopicSpec,
)

START = 1_700_000_000_000  # a minute boundary
MIN = 60_000
SPEED = 60.0  # one market minute per real second: an interval-1 candle closes every second

FAST = LiveConfig(
    ping_interval_s=0.5,
    pong_timeout_s=1.0,
    protocol_ping_interval_s=0.5,
    protocol_ping_timeout_s=1.0,
    open_timeout_s=2.0,
    close_timeout_s=0.5,
    ack_timeout_s=2.0,
    backoff_initial_s=0.2,
    backoff_max_s=1.0,
    healthy_reset_s=2.0,
    min_dial_interval_s=0.1,
    cooldown_403_s=0.5,
    cooldown_429_s=0.5,
    close_grace_ms=20_000,  # market ms: a third of a real second at SPEED
    watchdog_s=30.0,
    tick_s=0.05,
    repair_retry_s=0.5,
)


@dataclass
class Recorder:
    """The publish callback: every (channel, text) in order."""

    events: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, channel: str, text: str) -> None:
        self.events.append((channel, text))

    def on(self, channel: str) -> list[dict[str, Any]]:
        return [json.loads(t) for c, t in self.events if c == channel]


@dataclass
class Live:
    clock: FakeClock
    fake: FakeBybit
    rest: ServerThread
    ws: FakeStream
    store: CandleStore
    client: BybitClient
    stream: LiveStream
    published: Recorder

    def closed_starts(self, key: DatasetKey) -> list[int]:
        return self.store.load(key).time.tolist()

    def reconnects(self, category: str = "linear") -> int:
        return sum(c.reconnects for c in self.stream.status().connections if c.category == category)

    def connected(self) -> bool:
        conns = self.stream.status().connections
        return bool(conns) and all(c.state == "connected" for c in conns)


async def wait_for(cond: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """Poll until `cond()`; generous timeouts, no timing asserts."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def live_env(
    tmp: Path,
    specs: Sequence[TopicSpec] = (TopicSpec(symbol="BTCUSDT", intervals=("1",)),),
    *,
    config: LiveConfig = FAST,
    stream_config: FakeStreamConfig | None = None,
    publish: Callable[[str, str], Any] | None = None,
    clock_skew_ms: int = 0,
) -> AsyncIterator[Live]:
    clock = FakeClock(START, speed=SPEED)
    fake = FakeBybit(FakeBybitConfig(instruments=small_instruments()), clock=clock)
    rest = ServerThread(fake.app).start()
    ws = FakeStream(fake, stream_config or FakeStreamConfig(push_interval_s=0.1)).start()
    store = CandleStore(tmp / "candles")
    published = Recorder()
    try:
        async with httpx.AsyncClient() as http:
            client = BybitClient(http, fast_config(rest.url))
            stream = LiveStream(
                specs, store=store, client=client, publish=publish or published,
                url=ws.url, config=config, clock=lambda: clock() + clock_skew_ms,
            )  # fmt: skip
            task = asyncio.create_task(stream.run())
            try:
                yield Live(clock, fake, rest, ws, store, client, stream, published)
            finally:
                stream.stop()
                await asyncio.wait_for(task, 30)
    finally:
        ws.stop()
        rest.stop()


async def assert_store_matches_rest(live: Live, key: DatasetKey) -> int:
    """Every closed candle between the first and the last stored is there exactly once
    with the values REST reports. Returns how many were checked."""
    got = live.store.load(key)
    assert len(got) >= 2, f"too few stored candles: {len(got)}"
    step = np.diff(got.time)
    assert (step == int(key.interval) * MIN).all(), f"store has holes or repeats: {got.time}"
    ref = await live.client.get_klines(
        key.symbol, key.interval, category=key.category,
        start=int(got.time[0]), end=int(got.time[-1]),
    )  # fmt: skip
    assert ref.time.tolist() == got.time.tolist()
    for col in ("open", "high", "low", "close", "volume", "turnover"):
        assert getattr(ref, col).tolist() == getattr(got, col).tolist(), col
    return len(got)
