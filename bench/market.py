"""Market data throughput: backfill a year of 1m candles from the fake Bybit, store load, Redis gets.

Run: `uv run python bench/market.py` (add `--quick` for 30 days instead of 365).
The fake server runs in a subprocess so the client and server do not share a GIL.
Targets: achieved request rate >= 90 % of configured with 0 bans; store load of
1M candles <= 100 ms; Redis hit p50 <= 2 ms on loopback.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file is itself called market.py: drop bench/ from the path so `import market`
# finds the package, not this script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import market as M  # noqa: E402
from ohlcv import Candles  # noqa: E402

SERVER = """
import sys, uvicorn
from market import FakeBybit, FakeBybitConfig, FakeInstrument
fake = FakeBybit(FakeBybitConfig(instruments=[FakeInstrument(symbol="BTCUSDT", history_days=float(sys.argv[2]))]))
fake.warm("linear", "BTCUSDT", "1")  # encode the rows once, as a real exchange has them ready
uvicorn.run(fake.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""
DAY = 86_400_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


async def backfill(url: str, rate: float, days: float) -> dict[str, float]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=16)) as http:
        await http.post(url + "/__fake__/reset")
        client = M.BybitClient(http, M.ClientConfig(base_url=url, rate_per_s=rate, concurrency=8))
        await client.get_klines("BTCUSDT", "1", start=0, limit=1)  # warm the fake's series
        await http.post(url + "/__fake__/reset")
        with tempfile.TemporaryDirectory() as root:
            md = M.MarketData(M.CandleStore(root), client)
            now = int(time.time() * 1000)
            req0 = client.requests
            last_page = [0.0]

            def on_progress(p: M.FetchProgress) -> None:
                last_page[0] = time.perf_counter()

            t0 = time.perf_counter()
            candles = await md.get_candles(
                "BTCUSDT", "1", now - int(days * DAY), now, on_progress=on_progress
            )
            elapsed = time.perf_counter() - t0
            fetch_s = (
                last_page[0] - t0
            )  # request phase only: excludes the final store flush and load
            requests = client.requests - req0
        stats = (await http.get(url + "/__fake__/stats")).json()
    return {
        "requests": requests,
        "elapsed": elapsed,
        "fetch_s": fetch_s,
        "achieved": requests / fetch_s,
        "fraction": requests / fetch_s / rate,
        "bans": stats["bans"],
        "rejected": stats["rejected"],
        "candles": len(candles),
        "candles_per_s": len(candles) / elapsed,
    }


def store_load(n: int = 1_000_000, repeats: int = 7) -> list[float]:
    with tempfile.TemporaryDirectory() as root:
        store = M.CandleStore(root)
        key = M.DatasetKey.of("linear", "BTCUSDT", "1")
        start = (1_600_000_000_000 // 60_000) * 60_000
        store.upsert(key, Candles.from_arrays(M.random_walk_candles(n, start_ms=start)))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            loaded = store.load(key)
            times.append((time.perf_counter() - t0) * 1000)
            assert len(loaded) == n
        return times


async def redis_gets(n: int = 2000) -> tuple[float, float] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", d],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_port(port, proc)  # type: ignore[arg-type]
            cache = M.RedisCache(f"redis://127.0.0.1:{port}/0")
            c = Candles.from_arrays(M.random_walk_candles(1000, start_ms=0))
            await cache.set("market", "k", M.encode_arrays(c.columns()))
            lat = []
            for _ in range(n):
                t0 = time.perf_counter()
                blob = await cache.get("market", "k")
                M.decode_arrays(blob or b"")
                lat.append((time.perf_counter() - t0) * 1000)
            await cache.aclose()
        finally:
            proc.kill()
            proc.wait()
    q = statistics.quantiles(lat, n=100)
    return q[49], q[98]


def main() -> None:
    days = 30.0 if "--quick" in sys.argv else 365.0
    console = Console()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(days + 5)], cwd=Path(__file__).parents[1]
    )
    try:
        wait_port(port, proc)  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{port}"
        runs = {rate: asyncio.run(backfill(url, rate, days)) for rate in (20.0, 100.0)}
    finally:
        proc.terminate()
        proc.wait()
    loads = store_load()
    redis = asyncio.run(redis_gets())

    table = Table(
        title=f"market bench: {days:.0f} days of 1m candles from the fake Bybit (loopback)"
    )
    for col in ("measure", "value", "target"):
        table.add_column(col)
    for rate, r in runs.items():
        table.add_row(
            f"backfill @ {rate:.0f} req/s",
            f"{r['requests']:.0f} req in {r['fetch_s']:.1f} s = {r['achieved']:.1f} req/s "
            f"({r['fraction']:.0%} of configured); {r['candles']:,.0f} candles, {r['candles_per_s']:,.0f} candles/s end to end ({r['elapsed']:.1f} s); "
            f"bans {r['bans']}, 403s {r['rejected']}",
            ">= 90 %, 0 bans",
        )
    table.add_row(
        "store load 1M candles",
        f"median {np.median(loads):.1f} ms, best {min(loads):.1f} ms (of {len(loads)})",
        "<= 100 ms",
    )
    if redis is None:
        table.add_row(
            "Redis get (1000 candles, 56 KB)", "redis-server not installed", "p50 <= 2 ms"
        )
    else:
        table.add_row(
            "Redis get (1000 candles, 56 KB)",
            f"p50 {redis[0]:.3f} ms, p99 {redis[1]:.3f} ms",
            "p50 <= 2 ms",
        )
    console.print(table)


if __name__ == "__main__":
    main()
