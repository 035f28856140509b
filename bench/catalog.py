"""Results catalog: what recording a backtest costs its caller, and listing 100,000 runs.

    uv run python bench/catalog.py [--runs 100000] [--records 200] [--repeat 15] [--pg-url URL]

Recording, three ways: what the server's caller pays (`CatalogRecorder.submit`: the item is
built and written by the writer thread), what that writer thread spends per record
(`run_item`: trades and equity outline to NPY, + the write and commit), and a synchronous
`run_item` + `record` (as workers and the CLI record), for a typical backtest (sample BTCUSDT 15m, 35,040 bars, ema_cross) and a large one
(one year of 1m bars), on a SQLite file and on PostgreSQL over loopback; median and p95 over
`--records` distinct runs, next to the backtest's own time. Targets: <= 2 ms SQLite, <= 5 ms
PostgreSQL.

Listing: `--runs` realistic runs (10 symbols, the 8 strategies, 6 intervals, every engine
metric, a quarter tagged) bulk-inserted, then pages of 20 sorted by sharpe desc, filtered by
symbol, strategy or tag, a deep page (offset 5,000) and one with a metric bound; median over
`--repeat`. Target <= 50 ms a page on both.

PostgreSQL is a private server started like the tests' (tests/servers_testkit.py) on a free
loopback port unless --pg-url names one (its database must be empty: the bench migrates it).
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path and bench/engine.py would shadow
# the `engine` package: drop that entry before importing the project.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.append(str(HERE.parent / "tests"))  # servers_testkit: a private PostgreSQL

from sqlalchemy import insert  # noqa: E402

import engine as E  # noqa: E402
from mcp_server.catalog import Catalog, CatalogRecorder, RunQuery, catalog_url, run_item  # noqa: E402
from mcp_server.catalog._schema import RunRow  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "BNBUSDT",
           "AVAXUSDT", "LINKUSDT", "DOTUSDT")  # fmt: skip
INTERVALS = ("1", "5", "15", "60", "240", "D")
TAGS = ("baseline", "candidate", "keep", "review", "prod")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from servers_testkit import find_postgres_bin, pg_scratch_dir, pg_stop, start_postgres

    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql), or pass --pg-url")
    root = pg_scratch_dir()
    server = start_postgres(bin_dir, root / "server")
    try:
        yield server.url("postgres")
    finally:
        pg_stop(server)
        shutil.rmtree(root, ignore_errors=True)


# -- recording ----------------------------------------------------------------------------
def backtest_case(bars: int, interval: str) -> tuple[dict[str, Any], dict[str, Any], Any, float]:
    """(request, summary, result, backtest seconds: median of 3 after a warm-up)."""
    candles = E.sample_candles("BTCUSDT", interval, bars)
    params = {"fast": 12, "slow": 26}
    E.backtest(candles, "ema_cross", params)  # compile / warm caches
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = E.backtest(candles, "ema_cross", params)
        times.append(time.perf_counter() - t0)
    summary = result.summary()
    summary["metrics"] = {k: (None if isinstance(v, float) and v != v else v)
                          for k, v in result.metrics.items()}  # fmt: skip
    summary |= {"source": "sample", "category": "linear", "config": result.config}
    request = {"data": {"source": "sample", "symbol": "BTCUSDT", "interval": interval, "bars": bars},
               "fingerprint": "f" * 16, "strategy": "ema_cross", "params": result.params,
               "config": result.config}  # fmt: skip
    return request, summary, result, statistics.median(times)


def record_times(recorder: CatalogRecorder, case: tuple[Any, ...], n: int,
                 tag: str) -> tuple[list[float], list[float], list[float]]:  # fmt: skip
    """Per record: (the caller's time to hand it over, as the server records a backtest:
    `submit`; the writer thread's time to build and write it; the time of a synchronous
    `run_item` + `record`, as a worker or the CLI records)."""
    request, summary, result, _ = case
    caller, writer, sync = [], [], []
    for i in range(n):
        key = f"{tag}a{i:08d}".ljust(64, "0")
        t0 = time.perf_counter()
        recorder.submit(lambda key=key: run_item(key, request, summary, result, role="server"))  # type: ignore[misc]
        t1 = time.perf_counter()
        recorder.flush(60)  # one at a time: the next caller never waits behind a queue
        writer.append(time.perf_counter() - t1)
        caller.append(t1 - t0)
        key = f"{tag}b{i:08d}".ljust(64, "0")
        t0 = time.perf_counter()
        outcome = recorder.record(run_item(key, request, summary, result, role="worker"))
        sync.append(time.perf_counter() - t0)
        if outcome != "written":
            raise SystemExit(f"record {i} was {outcome}: {recorder.health()}")
    if recorder.written < 2 * n:
        raise SystemExit(f"only {recorder.written} of {2 * n} records written: {recorder.health()}")
    return caller, writer, sync


# -- listing ------------------------------------------------------------------------------
def bulk_runs(cat: Catalog, n: int, summary: dict[str, Any]) -> float:
    """Insert `n` realistic runs with every metric and a quarter tagged; seconds taken."""
    rng = random.Random(7)
    pg = cat.dialect == "postgresql"
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    strategies = list(E.STRATEGIES)
    base_metrics = {k: v for k, v in summary["metrics"].items() if isinstance(v, int | float)}
    batch = 10_000
    for start in range(0, n, batch):
        runs, metrics, tags = [], [], []
        for i in range(start, min(n, start + batch)):
            rid = f"{i:016x}"
            m = {k: v * rng.uniform(0.5, 1.5) for k, v in base_metrics.items()}
            m["sharpe"] = rng.gauss(0.5, 1.0)
            m["total_return"] = rng.gauss(0.05, 0.3)
            m["max_drawdown"] = -abs(rng.gauss(0.15, 0.1))
            m["n_trades"] = rng.randint(50, 2000)
            if rng.random() < 0.05:
                m.pop("sharpe")  # a run without trades has no sharpe
            symbol, strategy = rng.choice(SYMBOLS), rng.choice(strategies)
            interval = rng.choice(INTERVALS)
            created = now - timedelta(seconds=n - i)
            runs.append({
                "id": rid, "key": rid.ljust(64, "0"), "created": created,
                "symbol": symbol, "interval": interval, "category": "linear", "source": "bybit",
                "synthetic": False, "strategy": strategy, "params": {"fast": rng.randint(5, 50),
                "slow": rng.randint(20, 200)}, "config": summary.get("config", {}),
                "data": {"source": "bybit", "symbol": symbol, "interval": interval},
                "fingerprint": "f" * 16, "engine_version": "bench", "bars": 35_040,
                "start_ms": 0, "end_ms": 1, "trade_count": m["n_trades"], "metrics": m,
                "summary": {**summary, "metrics": m}, "note": "", "origin": "bench", "job_id": None,
            })  # fmt: skip
            # SQLite keeps times as SQLAlchemy writes them: naive UTC text
            at: Any = created if pg else created.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
            metrics += [(rid, k, float(v), symbol, strategy, interval, at) for k, v in m.items()]
            if rng.random() < 0.25:
                tags.append((rid, rng.choice(TAGS)))
        with cat.engine().begin() as conn:
            conn.execute(insert(RunRow), runs)
            raw = conn.connection.driver_connection
            assert raw is not None
            if pg:
                with raw.cursor() as cur:
                    with cur.copy("COPY run_metrics (run_id, name, value, symbol, strategy, interval, created) FROM STDIN") as copy:
                        for row in metrics:
                            copy.write_row(row)
                    with cur.copy("COPY run_tags (run_id, tag) FROM STDIN") as copy:
                        for row in tags:
                            copy.write_row(row)
            else:
                raw.executemany("INSERT INTO run_metrics (run_id, name, value, symbol, strategy, interval, created) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", metrics)
                raw.executemany("INSERT INTO run_tags (run_id, tag) VALUES (?, ?)", tags)
    with cat.engine().begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - t0


QUERIES: list[tuple[str, RunQuery]] = [
    ("symbol, sort sharpe desc", RunQuery(symbol="ETHUSDT", sort="sharpe")),
    ("strategy, sort sharpe desc", RunQuery(strategy="rsi", sort="sharpe")),
    ("tag, sort sharpe desc", RunQuery(tag="keep", sort="sharpe")),
    ("symbol, sharpe desc, offset 5000", RunQuery(symbol="ETHUSDT", sort="sharpe", offset=5000)),
    ("symbol + sharpe >= 1, sharpe desc", RunQuery(symbol="ETHUSDT", sort="sharpe", metric_min={"sharpe": 1.0})),
    ("symbol + drawdown >= -0.1, sharpe asc", RunQuery(symbol="ETHUSDT", sort="sharpe", descending=False,
                                                      metric_min={"max_drawdown": -0.1})),
    ("no filter, sort sharpe desc", RunQuery(sort="sharpe")),
    ("no filter, sort created desc", RunQuery()),
]


def timed(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm: the first call opens the schema and fills the caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--pg-url", default=None, help="an empty PostgreSQL database (default: a private server)")
    ap.add_argument("--skip-list", action="store_true")
    ap.add_argument("--only", choices=("sqlite", "postgresql"), default=None,
                    help="one database (the listing table then shows only its column)")
    args = ap.parse_args()

    print("backtests (ema_cross 12/26, sample BTCUSDT) ...", file=sys.stderr)
    cases = {"typical 35,040 x 15m": backtest_case(35_040, "15"),
             "large 525,600 x 1m": backtest_case(525_600, "1")}  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="bst-bench-catalog-"))
    rows: list[tuple[str, str, str]] = []
    listing: dict[str, dict[str, float]] = {}
    try:
        with postgres(args.pg_url) as pg_url:
            for dialect, url in (("sqlite", f"sqlite:///{tmp}/catalog.sqlite3"), ("postgresql", pg_url)):
                if args.only not in (None, dialect):
                    continue
                cat = Catalog(catalog_url(url, tmp))
                recorder = CatalogRecorder(cat, tmp / f"spool-{dialect}", retry_s=60)
                cat.open()
                for name, case in cases.items():
                    record_times(recorder, case, 3, f"w{name[:2]}")  # warm the pool
                    recorder.written = 0
                    times = record_times(recorder, case, args.records, name[:2])
                    trades, bt = len(case[2].trades), case[3]
                    for what, t in zip(("caller (submit)", "writer thread", "synchronous"), times,
                                       strict=True):  # fmt: skip
                        med = statistics.median(t)
                        rows.append((f"record {name} ({trades:,} trades): {what}", dialect,
                                     f"median {med * 1000:6.2f} ms  p95 {pct(t, 0.95) * 1000:6.2f} ms  "
                                     f"backtest {bt * 1000:7.1f} ms  ratio {med / bt:6.2%}"))  # fmt: skip
                if not args.skip_list:
                    print(f"{dialect}: inserting {args.runs:,} runs ...", file=sys.stderr)
                    took = bulk_runs(cat, args.runs, cases["typical 35,040 x 15m"][1])
                    rows.append((f"bulk insert {args.runs:,} runs", dialect, f"{took:6.1f} s"))
                    for label, q in QUERIES:
                        page = cat.list_runs(q)
                        t = timed(lambda q=q, cat=cat: cat.list_runs(q), args.repeat)  # type: ignore[misc]
                        listing.setdefault(label, {})[dialect] = t
                        listing[label][dialect + " total"] = page.total
                recorder.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\ncatalog bench: {args.records} records per case, list_runs median of {args.repeat}")
    width = max(len(r[0]) for r in rows)
    for name, dialect, text in rows:
        print(f"{name:<{width}}  {dialect:<10}  {text}")
    if listing:
        width = max(len(k) for k in listing)
        print(f"\n{'list_runs page of 20':<{width}}  {'matching':>8}  {'sqlite ms':>9}  {'postgres ms':>11}")
        for label, t in listing.items():
            total = t.get("sqlite total", t.get("postgresql total", 0))
            ms = [f"{t[d] * 1000:.1f}" if d in t else "-" for d in ("sqlite", "postgresql")]
            print(f"{label:<{width}}  {int(total):>8,}  {ms[0]:>9}  {ms[1]:>11}")


if __name__ == "__main__":
    main()
