"""Live fan-out: messages per second and delay through fake stream -> stream worker -> Redis ->
relay -> WebSocket clients, with 1 and 50 relay clients, in one run and one table.

Run: `uv run python bench/live.py [--seconds 10] [--push-interval 0.05]`. Everything is on
loopback and real: the fake Bybit (REST + stream, on the wall clock so its `ts` is its send
time) in this process, `bybit-tester live` (the stream worker) and `bybit-tester serve
--transport http` (the relay) as subprocesses, a private redis-server, and `websockets`
clients here, each subscribed to `bybit:ticks` (every event).

Rows:
- `stream`: the fake pushes klines and tickers every --push-interval; delay is the client's
  receive time minus the fake's `ts` (fake send -> worker -> Redis -> relay -> client).
- `burst`: this process publishes --burst messages into Redis as fast as it can (the
  worker's publish path, without the exchange side); delay is receive minus publish time.
  Its msgs/s is the relay's capacity.
Targets (issue #16): stream, 50 clients: p50 <= 20 ms, p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/market.py and bench/mcp.py would shadow the packages of the same names
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from servers_testkit import free_port, start_redis, stop  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

import market as M  # noqa: E402

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
CHANNEL = M.TICKS_CHANNEL


@dataclass
class Sample:
    delays_ms: list[float] = field(default_factory=list)
    received: int = 0
    last: float = 0.0  # monotonic time of the last message counted


@dataclass
class Row:
    kind: str
    clients: int
    seconds: float
    published: int
    samples: list[Sample]
    dropped: float

    @property
    def lost(self) -> int:
        """Burst messages that never arrived (relay drops, or Redis cutting a lagging
        subscriber off at its pub/sub output-buffer limit)."""
        if self.kind != "burst":
            return 0
        return self.published * self.clients - sum(s.received for s in self.samples)

    def stats(self) -> tuple[float, float, float, float, float]:
        delays = sorted(d for s in self.samples for d in s.delays_ms)
        if not delays:
            return (0.0, 0.0, 0.0, 0.0, 0.0)
        total = sum(s.received for s in self.samples)

        def q(p: float) -> float:
            return delays[min(len(delays) - 1, int(p * len(delays)))]

        return (
            total / self.seconds,
            total / self.seconds / self.clients,
            q(0.5),
            q(0.99),
            delays[-1],
        )


def _env(tmp: Path, rest: str, ws: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BST_", "BYBIT_", "REDIS"))}
    return env | {
        "BST_BYBIT_BASE_URL": rest, "BYBIT_WS_URL": ws, "BST_DATA_DIR": str(tmp / "store"),
        "BST_LIVE_FANOUT_URL": redis_url, "BYBIT_WS_SYMBOLS": ",".join(SYMBOLS),
        "BYBIT_WS_INTERVALS": "1", "BST_LIVE_QUEUE_SIZE": "10000", "BST_LOG_LEVEL": "WARNING",
    }  # fmt: skip


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-c", "from mcp_server.cli import main; main()", *args]
    return subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def _ready(url: str, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{what} did not come up at {url}")


async def _client(url: str) -> ClientConnection:
    conn = await connect(url, open_timeout=30, max_queue=None, compression=None)
    first = json.loads(await conn.recv())
    assert first["kind"] == "subscribed", first
    return conn


async def _read(conn: ClientConnection, sample: Sample, stop_at: float, key: str) -> None:
    while True:
        timeout = stop_at - time.monotonic()
        if timeout <= 0:
            return
        try:
            text = await asyncio.wait_for(conn.recv(), timeout)
        except TimeoutError:
            return
        now_ms = time.time() * 1000
        msg = json.loads(text)
        sent = msg.get(key)
        if isinstance(sent, int | float) and msg.get("kind") in ("candle", "ticker", "bench"):
            sample.received += 1
            sample.delays_ms.append(now_ms - sent)
            sample.last = time.monotonic()


async def _dropped(base: str) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        return float((await http.get(base + "/health")).json()["live"]["relay_dropped"])


async def _measure(kind: str, n: int, seconds: float, ws_url: str, base: str, redis_url: str,
                   burst: int) -> Row:  # fmt: skip
    conns = [await _client(ws_url) for _ in range(n)]
    samples = [Sample() for _ in conns]
    before = await _dropped(base)
    published = 0
    t0 = time.monotonic()
    if kind == "stream":
        stop_at = t0 + seconds
        await asyncio.gather(
            *(_read(c, s, stop_at, "ts") for c, s in zip(conns, samples, strict=True))
        )
    else:
        fanout = M.RedisFanout(redis_url)
        stop_at = t0 + seconds + 30  # readers stop early once every message is in

        async def publish() -> None:
            nonlocal published
            for i in range(burst):
                body = {"v": 1, "kind": "bench", "i": i, "at": time.time() * 1000}
                await fanout.publish(CHANNEL, json.dumps(body))
                published += 1

        readers = [
            asyncio.create_task(_read(c, s, stop_at, "at"))
            for c, s in zip(conns, samples, strict=True)
        ]
        await publish()
        while time.monotonic() < stop_at and any(s.received < burst for s in samples):
            await asyncio.sleep(0.05)
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await fanout.aclose()
    elapsed = time.monotonic() - t0
    if kind == "burst":  # until the last message arrived, not until the readers gave up
        elapsed = max(s.last for s in samples) - t0
    for c in conns:
        await c.close()
    return Row(kind, n, elapsed, published, samples, await _dropped(base) - before)


async def main(seconds: float, push_interval: float, burst: int, clients: list[int]) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (apt-get install redis-server)")
    console = Console(width=150)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        redis_proc, redis_port = start_redis(binary, tmp)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        clock = M.FakeClock(speed=1.0)  # the wall clock: the fake's ts is its send time
        fake = M.FakeBybit(M.FakeBybitConfig(), clock=clock)
        rest = M.ServerThread(fake.app).start()
        stream = M.FakeStream(fake, M.FakeStreamConfig(push_interval_s=push_interval)).start()
        env = _env(tmp, rest.url, stream.url, redis_url)
        port = free_port()
        relay = _cli("serve", "--transport", "http", "--port", str(port), env=env, cwd=tmp)
        worker = _cli("live", env=env, cwd=tmp)
        base = f"http://127.0.0.1:{port}"
        rows: list[Row] = []
        try:
            await _ready(base + "/health", "the relay")
            ws_url = f"ws://127.0.0.1:{port}/api/v1/live?channel={CHANNEL}"
            probe = await _client(ws_url)  # wait until the worker's events flow
            await asyncio.wait_for(probe.recv(), 60)
            await probe.close()
            for kind in ("stream", "burst"):
                for n in clients:
                    rows.append(await _measure(kind, n, seconds, ws_url, base, redis_url, burst))
        finally:
            for proc in (worker, relay, redis_proc):
                stop(proc)
            stream.stop()
            rest.stop()
    table = Table(
        title=f"fake -> worker -> Redis -> relay -> clients (loopback, {os.cpu_count()} cores)"
    )
    for col in ("path", "clients", "seconds", "msgs/s delivered", "msgs/s per client",
                "p50 ms", "p99 ms", "max ms", "dropped", "lost"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in rows:
        total, per, p50, p99, worst = r.stats()
        path = (
            f"stream (push {push_interval * 1000:.0f} ms)"
            if r.kind == "stream"
            else f"burst ({r.published})"
        )
        table.add_row(path, str(r.clients), f"{r.seconds:.1f}", f"{total:,.0f}", f"{per:,.0f}",
                      f"{p50:.1f}", f"{p99:.1f}", f"{worst:.1f}", f"{r.dropped:.0f}", f"{r.lost}")  # fmt: skip
    console.print(table)
    console.print("Targets: stream with 50 clients, p50 <= 20 ms and p99 <= 100 ms.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--push-interval", type=float, default=0.05)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--clients", default="1,50")
    a = parser.parse_args()
    asyncio.run(main(a.seconds, a.push_interval, a.burst, [int(c) for c in a.clients.split(",")]))
