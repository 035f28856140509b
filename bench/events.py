"""Job-event bus: emit rate and emit -> blocked-reader wake latency, in-process vs Redis.

    uv run python bench/events.py [--emits 5000] [--wakes 300] [--redis-url redis://...]

Without --redis-url a private redis-server is started on a free loopback port (skipped,
with a note, when the binary is missing). Wake latency: a reader thread blocks in
`read(job, after, block_s=...)`; the main thread emits and records the time until the
reader holds the event. One table, all rows from this run.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

# Run as a script, this folder comes first on sys.path and bench/engine.py would shadow
# the `engine` package: drop that entry before importing the project.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from mcp_server.events import EventBus, MemoryEventBus, RedisEventBus  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] * 1000


def emit_rate(bus: EventBus, n: int) -> float:
    job = f"rate-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    for i in range(n):
        bus.emit(job, "progress", done=i, total=n)
    return n / (time.perf_counter() - started)


def wake_latencies(bus: EventBus, n: int) -> list[float]:
    """Seconds from emit to the blocked reader having the event, n times."""
    job = f"wake-{uuid.uuid4().hex[:6]}"
    after = bus.emit(job, "started")
    out: list[float] = []
    for i in range(n):
        got = threading.Event()
        woke: list[float] = []

        def reader(
            since: str = after, got: threading.Event = got, woke: list[float] = woke
        ) -> None:
            events = bus.read(job, since, block_s=10)
            woke.append(time.perf_counter())
            if events:
                got.set()

        thread = threading.Thread(target=reader)
        thread.start()
        time.sleep(0.002)  # let it block; a read that starts after the emit returns at once anyway
        sent = time.perf_counter()
        after = bus.emit(job, "progress", done=i)
        thread.join()
        if got.is_set():
            out.append(woke[0] - sent)
    return out


def start_redis() -> tuple[subprocess.Popen[bytes] | None, str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        return None, None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    proc.kill()
    return None, None


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--emits", type=int, default=5000)
    ap.add_argument("--wakes", type=int, default=300)
    ap.add_argument("--redis-url")
    args = ap.parse_args()
    proc, url = (None, args.redis_url) if args.redis_url else start_redis()
    buses: list[tuple[str, EventBus]] = [("in-process (MemoryEventBus)", MemoryEventBus())]
    if url:
        buses.append(
            (
                "Redis Streams (Lua XADD x2, XREAD BLOCK)",
                RedisEventBus.from_url(url, prefix="bench"),
            )
        )
    rows = []
    try:
        for name, bus in buses:
            rate = emit_rate(bus, args.emits)
            lat = wake_latencies(bus, args.wakes)
            rows.append((name, rate, pct(lat, 0.5), pct(lat, 0.99), len(lat)))
            bus.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"\nevent bus bench: {args.emits} emits, {args.wakes} wake-ups per bus")
    print(f"{'bus':<42} {'emits/s':>10} {'wake p50 ms':>12} {'wake p99 ms':>12} {'woken':>6}")
    for name, rate, p50, p99, n in rows:
        print(f"{name:<42} {rate:>10,.0f} {p50:>12.3f} {p99:>12.3f} {n:>6}")
    if not url:
        print("(Redis row skipped: redis-server not found; pass --redis-url)")


if __name__ == "__main__":
    main()
