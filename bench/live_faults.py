"""Live stream under faults: reconnection delay and closed candles missing or duplicated.

Run: `uv run python bench/live_faults.py`. For every fault of the fake stream, on
loopback with the real client (market time x60, so a 1-minute candle closes every
second), it measures the time from the end of the fault to the stream being
subscribed again, then compares the store with REST over the whole period.
Targets (issue #16): reconnection within 5 s of the fault ending; 0 closed candles
missing or duplicated once repaired, with REST's values.
Timings are the production defaults except the pings (1 s instead of 20 s, so a
stall is noticed within the run) and the close grace (20 s of market time).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from rich.console import Console
from rich.table import Table

import market as M

MIN = 60_000
START = 1_700_000_000_000
CONFIG = M.LiveConfig(
    ping_interval_s=1.0, pong_timeout_s=1.0, protocol_ping_interval_s=1.0,
    protocol_ping_timeout_s=1.0, close_grace_ms=20_000,
)  # fmt: skip
KEY = M.DatasetKey.of("linear", "BTCUSDT", "1")
SCENARIOS: list[tuple[str, list[M.WsFault], float]] = [  # name, faults, how long the fault lasts
    ("drop (1006)", [M.WsFault(kind="drop")], 0.0),
    *(
        (f"close {c}", [M.WsFault(kind="close", code=c)], 0.0)
        for c in (1000, 1001, 1011, 1012, 4000)
    ),
    ("stall 3 s", [M.WsFault(kind="stall", duration_s=3.0)], 3.0),
    ("ignore pings 3 s", [M.WsFault(kind="ignore_pings", duration_s=3.0)], 3.0),
    (
        "503 x2 + drop",
        [M.WsFault(kind="reject_handshake", status=503, times=2), M.WsFault(kind="drop")],
        0.0,
    ),
    ("malformed x20", [M.WsFault(kind="malformed", times=20)], 0.0),
    ("skip confirm x3", [M.WsFault(kind="skip_confirm", times=3)], 0.0),
    ("duplicate confirm x3", [M.WsFault(kind="duplicate_confirm", times=3)], 0.0),
    ("delay 0.3 s for 2 s", [M.WsFault(kind="delay", delay_s=0.3, duration_s=2.0)], 2.0),
    ("clock +10 min + drop", [M.WsFault(kind="drop")], 0.0),
]


async def until(cond: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


async def scenario(name: str, faults: list[M.WsFault], duration: float) -> dict[str, object]:
    clock = M.FakeClock(START, speed=60.0)
    fake = M.FakeBybit(clock=clock)
    published: list[str] = []

    async def publish(channel: str, text: str) -> None:
        if channel.startswith("bybit:candle:"):
            published.append(text)

    with (
        M.ServerThread(fake.app) as rest,
        M.FakeStream(fake, M.FakeStreamConfig(push_interval_s=0.1)) as ws,
    ):
        store = M.CandleStore(tempfile.mkdtemp())
        async with httpx.AsyncClient() as http:
            client = M.BybitClient(http, M.ClientConfig(base_url=rest.url))
            spec = M.TopicSpec(symbol="BTCUSDT", tickers=False)
            live = M.LiveStream([spec], store=store, client=client, publish=publish,
                                url=ws.url, config=CONFIG, clock=clock)  # fmt: skip
            task = asyncio.create_task(live.run())

            def conn() -> M.ConnectionStatus:
                return live.status().connections[0]

            await until(lambda: len(store.load(KEY)) >= 3 and conn().state == "connected")
            reconnects = conn().reconnects
            if name.startswith("clock"):
                clock.jump(10 * MIN)
            t0 = time.monotonic()
            ws.inject(*faults)
            reconnected: float | None = None
            try:
                await until(
                    lambda: conn().reconnects > reconnects and conn().state == "connected", 15
                )
                reconnected = max(0.0, time.monotonic() - t0 - duration)
            except TimeoutError:
                pass  # a fault the connection rides out
            mark = clock()
            await until(lambda: int(store.load(KEY).time[-1]) >= mark + 3 * MIN)
            live.stop()
            await task
            got = store.load(KEY)
            ref = await client.get_klines(
                "BTCUSDT", "1", start=int(got.time[0]), end=int(got.time[-1])
            )
    expected = set(range(int(got.time[0]), int(got.time[-1]) + 1, MIN))
    closed = Counter(
        e["start"] for e in map(json.loads, published) if e["closed"] and e["source"] == "ws"
    )
    differ = sum(
        1 for col in ("open", "high", "low", "close", "volume", "turnover")
        for a, b in zip(getattr(got, col).tolist(), getattr(ref, col).tolist(), strict=False) if a != b
    )  # fmt: skip
    return {
        "fault": name,
        "reconnect_s": "none needed" if reconnected is None else f"{reconnected:.2f}",
        "candles": len(got),
        "missing": len(expected - set(got.time.tolist())),
        "dup_published": sum(n - 1 for n in closed.values()),
        "values_differ": differ + abs(len(ref) - len(got)),
        "repaired": live.status().repaired_candles,
    }


async def main() -> None:
    rows = [await scenario(*s) for s in SCENARIOS]
    table = Table(
        title="live stream under faults (target: reconnect <= 5 s, 0 missing / duplicated)"
    )
    for col in rows[0]:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
