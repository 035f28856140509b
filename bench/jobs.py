"""Jobs: the 184-combination grid in-process vs through the job system, and job latency.

    uv run python bench/jobs.py [--bars 1000000] [--tiny 40] [--redis-url redis://...]

Rows: the grid run in-process; as a job on the embedded worker; through a private
redis-server with 1 worker using every core, 1 single-threaded worker and 2
single-threaded workers (`bybit-tester worker` subprocesses, prefork, 4 chunks); 20
concurrent HTTP clients running backtests (each on its own sample seed) in-process and as
jobs on the 2 workers; then the per-job overhead of tiny backtest jobs (submit -> started, submit -> succeeded,
minus the backtest itself) embedded and on Redis. Job rows are for workers that already
hold the candles (each worker process caches a sample data set after its first load; the
"first" row shows that load). One table, every row from this run.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path and bench/engine.py would shadow
# the `engine` package: drop that entry before importing the project.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import anyio  # noqa: E402

import engine as E  # noqa: E402
import market as M  # noqa: E402
from mcp_server.candles import CandleSource, DataSet, LocalDataSpec  # noqa: E402
from mcp_server.events import MemoryEventBus, make_event_bus  # noqa: E402
from mcp_server.jobs import JobService, job_events_url  # noqa: E402
from mcp_server.settings import JobsSettings, ServerSettings, Settings  # noqa: E402
from mcp_server.tools._args import SearchSpec, StrategySpec  # noqa: E402

SEARCH = SearchSpec(params={"fast": [5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
                            "slow": list(range(20, 220, 10))}, strategy="ema_cross")  # fmt: skip


def _start_redis() -> Any:
    spec = importlib.util.spec_from_file_location("bench_events", HERE / "events.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.start_redis()


def wait(service: JobService, job_id: str) -> None:
    after = "0"
    while not service.get(job_id).terminal:
        for event in service.events(job_id, after, block_s=1.0):
            after = event.id
    state = service.get(job_id).state
    if state != "succeeded":
        raise SystemExit(f"job {job_id} ended {state}: {service.get(job_id).error}")


def timed_grid(service: JobService, data: DataSet, chunks: int) -> float:
    started = time.perf_counter()
    record = service.submit_search(data, SEARCH, chunks=chunks, overfit=False)
    wait(service, record.id)
    return time.perf_counter() - started


def overhead(
    service: JobService, data: DataSet, n: int, direct_s: float
) -> tuple[float, float, float]:
    """p50 submit->started, p99 submit->started, p50 (submit->succeeded - direct run), in ms."""
    starts, totals = [], []
    for _ in range(n):
        record = service.submit_backtest(data, StrategySpec(strategy="ema_cross"))
        wait(service, record.id)
        at = {e.kind: e.at for e in service.events(record.id)}
        starts.append(at["started"] - at["queued"])
        totals.append(at["succeeded"] - at["queued"] - direct_s)
    starts.sort()
    p99 = starts[min(len(starts) - 1, round(0.99 * (len(starts) - 1)))]
    return statistics.median(starts) * 1000, p99 * 1000, statistics.median(totals) * 1000


class Workers:
    def __init__(self, env: dict[str, str], service: JobService, logs: Path) -> None:
        self.env, self.service, self.logs, self.procs = env, service, logs, []

    def start(self, name: str, threads: int | None) -> None:
        env = dict(self.env) | ({"NUMBA_NUM_THREADS": str(threads)} if threads else {})
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "mcp_server.cli", "worker", "-c", "1",
                                 "-n", f"{name}@%h", "-l", "WARNING"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replies = self.service.app().control.ping(timeout=0.5) or []
            if any(node.startswith(f"{name}@") for reply in replies for node in reply):
                return
        raise SystemExit(f"worker {name} did not start; see {self.logs / f'{name}.log'}")

    def stop(self) -> None:
        for proc in self.procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.procs = []


BODY = {"strategy": "sma_cross", "params": {"fast": 10, "slow": 30}, "bars": 35_040}
_SEEDS = itertools.count(1000)  # a new data set per request: no result-cache hits


async def _one(http: Any, mode: str) -> float:
    """One backtest over HTTP, start to result: sync, or async (202, SSE until done, result)."""
    body = {**BODY, "seed": next(_SEEDS)}
    t0 = time.perf_counter()
    if mode == "sync":
        r = await http.post("/api/v1/backtests", json=body)
        r.raise_for_status()
    else:
        r = await http.post("/api/v1/backtests?mode=async", json=body)
        r.raise_for_status()
        job = r.json()["id"]
        (await http.get(f"/api/v1/jobs/{job}/events")).raise_for_status()  # ends with the job
        (await http.get(f"/api/v1/jobs/{job}/result")).raise_for_status()
    return time.perf_counter() - t0


def http_clients(
    settings: Settings, mode: str, clients: int, each: int
) -> tuple[float, float, int]:
    """`clients` concurrent HTTP clients, `each` backtests each: p50, p99 (ms), errors."""
    import httpx

    from mcp_server.http import build_http_app

    server = M.ServerThread(build_http_app(settings, host="127.0.0.1", port=0)).start()
    times: list[float] = []
    errors = [0]

    async def client() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            for _ in range(each):
                try:
                    times.append(await _one(http, mode))
                except Exception:  # counted: the figure is the error count
                    errors[0] += 1

    async def run() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            await _one(http, mode)  # warm: compile, load the sample once
        async with anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(client)

    try:
        anyio.run(run)
    finally:
        server.stop()
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))] if times else float("nan")
    return statistics.median(times) * 1000 if times else float("nan"), p99 * 1000, errors[0]


@dataclass
class Bench:
    """What every section of the run shares."""

    args: argparse.Namespace
    tmp: Path
    data: DataSet
    tiny: DataSet
    t_in: float = 0.0
    direct: float = 0.0
    rows: list[tuple[str, str]] = field(default_factory=list)

    def overhead_row(self, service: JobService, where: str) -> None:
        s50, s99, extra = overhead(service, self.tiny, self.args.tiny, self.direct)
        self.rows.append((f"{where} job overhead ({self.args.tiny} tiny backtests)",
                          f"submit->start p50 {s50:.1f} ms p99 {s99:.1f} ms; total - run p50 {extra:.1f} ms"))  # fmt: skip

    def http_row(self, settings: Settings, mode: str, where: str) -> None:
        p50, p99, errs = http_clients(settings, mode, self.args.clients, self.args.each)
        self.rows.append((f"{self.args.clients} HTTP clients x {self.args.each} backtests, {where}",
                          f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, {errs} errors"))  # fmt: skip


def in_process_rows(b: Bench) -> None:
    E.optimize_grid(b.tiny.candles, SEARCH.space(), overfit=False)  # compile / load the cache
    t0 = time.perf_counter()
    E.optimize_grid(b.data.candles, SEARCH.space(), overfit=False)
    b.t_in = time.perf_counter() - t0
    b.rows.append((f"grid of 184 on {b.args.bars:,} bars: in-process", f"{b.t_in:.2f} s"))
    E.backtest(b.tiny.candles, "ema_cross")  # compile / load the cache
    runs = []
    for _ in range(20):
        t1 = time.perf_counter()
        E.backtest(b.tiny.candles, "ema_cross")
        runs.append(time.perf_counter() - t1)
    b.direct = statistics.median(runs)


def embedded_rows(b: Bench) -> None:
    settings = Settings(ServerSettings(data_dir=b.tmp, _env_file=None),  # type: ignore[call-arg]
                        jobs=JobsSettings(broker_url="", _env_file=None))  # type: ignore[call-arg]  # fmt: skip
    embedded = JobService(settings, MemoryEventBus())
    cold = timed_grid(embedded, b.data, 1)
    b.rows.append(("  ... as a job, embedded, first (worker loads the candles)", f"{cold:.2f} s"))
    t_emb = timed_grid(embedded, b.data, 1)
    b.rows.append(
        ("  ... as a job, embedded worker (1 chunk)", f"{t_emb:.2f} s ({t_emb / b.t_in:.2f}x)")
    )
    b.overhead_row(embedded, "embedded")
    b.http_row(settings, "sync", "in-process (sync)")


def redis_rows(b: Bench, url: str) -> None:
    settings = Settings(ServerSettings(data_dir=b.tmp, _env_file=None),  # type: ignore[call-arg]
                        jobs=JobsSettings(broker_url=url, _env_file=None))  # type: ignore[call-arg]  # fmt: skip
    service = JobService(settings, make_event_bus(job_events_url(settings)))
    workers = Workers(
        {**os.environ, "BST_BROKER_URL": url, "BST_DATA_DIR": str(b.tmp)}, service, b.tmp
    )
    took: dict[str, float] = {}
    for label, threads, count in (("1 worker, all cores", None, 1),
                                  ("1 single-threaded worker", 1, 1),
                                  ("2 single-threaded workers", 1, 2)):  # fmt: skip
        for k in range(count):
            workers.start(f"w{k}", threads)
        for _ in range(count):  # every pool process loads numba's cache and the candles once
            timed_grid(service, b.data, count)
        took[label] = t = timed_grid(service, b.data, 4)
        b.rows.append(
            (f"  ... through Redis, {label} (4 chunks)", f"{t:.2f} s ({t / b.t_in:.2f}x)")
        )
        if label == "1 worker, all cores":
            b.overhead_row(service, "Redis")
        if label == "2 single-threaded workers":
            b.http_row(settings, "async", "async on 2 workers")
        workers.stop()
    speedup = took["1 single-threaded worker"] / took["2 single-threaded workers"]
    b.rows.append(("2 vs 1 single-threaded workers", f"{speedup:.2f}x faster"))
    service.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--tiny", type=int, default=40, help="Tiny jobs for the overhead rows")
    ap.add_argument("--redis-url", default=None)
    ap.add_argument("--clients", type=int, default=20, help="Concurrent HTTP clients")
    ap.add_argument("--each", type=int, default=5, help="Backtests per HTTP client")
    args = ap.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    tmp = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    source = CandleSource(M.CandleStore(tmp / "store"), max_bars=None)
    b = Bench(args, tmp, anyio.run(source.load, LocalDataSpec(bars=args.bars)),
              anyio.run(source.load, LocalDataSpec(bars=500)))  # fmt: skip
    in_process_rows(b)
    embedded_rows(b)
    proc, url = (None, args.redis_url) if args.redis_url else _start_redis()
    if url is None:
        b.rows.append(("Redis rows", "skipped: redis-server not found (pass --redis-url)"))
    else:
        redis_rows(b, url)
    if proc is not None:
        proc.terminate()
    width = max(len(r[0]) for r in b.rows)
    print(f"{'case'.ljust(width)}  result")
    for name, value in b.rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
