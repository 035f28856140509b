"""The catalog under load and outage: processes writing overlapping records at once (each key
once, nothing lost, on a SQLite file and on PostgreSQL), and the recorder spooling while
the database is down, handing the spool to another process, draining when it is back."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool
from pathlib import Path

import pytest
from servers_testkit import PostgresDatabase
from sqlalchemy import text

from mcp_server.catalog import (
    Catalog,
    CatalogRecorder,
    JobItem,
    OptimizationItem,
    RunItem,
    RunQuery,
    catalog_url,
)

WRITERS = 3
SHARED = 25  # keys every writer records
OWN = 15  # keys only one writer records


def item(n: int, symbol: str = "BTCUSDT") -> RunItem:
    key = f"{n:016x}" + "c" * 48
    summary = {"symbol": symbol, "interval": "60", "bars": 100,
               "metrics": {"sharpe": n / 7, "total_return": float("nan"), "n_trades": n}}  # fmt: skip
    return RunItem(id=key[:16], key=key, created=1_780_000_000 + n, request={"strategy": "rsi"},
                   summary=summary, trades=bytes(range(256)) * 4)  # fmt: skip


def writer(url: str, index: int) -> int:
    """One writing process: the shared keys and its own, shuffled; how many it inserted."""
    cat = Catalog(catalog_url(url, Path("/nonexistent")), connect_timeout=10)
    keys = list(range(SHARED)) + [1000 * (index + 1) + k for k in range(OWN)]
    random.Random(index).shuffle(keys)
    inserted = 0
    try:
        for n in keys:
            inserted += cat.write(item(n))
        # jobs and optimisations too: one shared job moving on, one shared search
        inserted += cat.write(OptimizationItem(id="opt-shared", key="s" * 64, kind="grid",
                                               request={}, summary={}, table=b"\x00" * 100))  # fmt: skip
        for state in ("queued", "running", "succeeded"):
            cat.write(JobItem(id="job-shared", kind="grid", state=state, created=1.0,
                              worker=f"w{index}", attempts=1))  # fmt: skip
    finally:
        cat.close()
    return inserted


def ready(_: int) -> int:
    return os.getpid()


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    """Spawned writer processes for the whole module (each takes seconds to import the
    project), warmed up so that the writers of a test start together."""
    with multiprocessing.get_context("spawn").Pool(WRITERS) as workers:
        workers.map(ready, range(WRITERS * 4), chunksize=1)
        yield workers


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/catalog.sqlite3"
    return str(request.getfixturevalue("postgres_url"))


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(
    pool: Pool, db_url: str, tmp_path: Path
) -> None:
    # the processes start on an empty database: they also race to migrate it
    inserted = pool.starmap(writer, [(db_url, i) for i in range(WRITERS)], chunksize=1)
    expected = SHARED + WRITERS * OWN
    assert sum(inserted) == expected + 1  # each run once, the optimisation once
    cat = Catalog(catalog_url(db_url, tmp_path))
    try:
        page = cat.list_runs(RunQuery(limit=500))
        assert page.total == expected
        assert sorted(int(r.id, 16) for r in page.runs) == sorted(
            [*range(SHARED)] + [1000 * (i + 1) + k for i in range(WRITERS) for k in range(OWN)]
        )
        with cat.engine().connect() as conn:
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                      for t in ("run_metrics", "artifacts", "optimizations", "jobs")}  # fmt: skip
        # two finite metrics per run (total_return is NaN), one trades blob per run
        assert counts == {"run_metrics": 2 * expected, "artifacts": expected + 1,
                          "optimizations": 1, "jobs": 1}  # fmt: skip
        (job,) = cat.recent("jobs")
        assert job["state"] == "succeeded"
    finally:
        cat.close()


def wait_for(what: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def drain_in_another_process(url: str, spool: str) -> int:
    """A new process on the same spool: it sends what the first one left (waiting for the
    database as long as it takes); how many runs the catalog holds then."""
    recorder = CatalogRecorder(Catalog(catalog_url(url, Path(spool)), connect_timeout=2),
                               Path(spool), retry_s=0.3)  # fmt: skip
    try:
        assert recorder.health()["pending"] > 0  # and health() starts the retries
        wait_for(lambda: recorder.pending() == 0)
        return recorder.catalog.list_runs(RunQuery(limit=100)).total
    finally:
        recorder.close()


def test_recorder_spools_while_postgres_is_down_and_another_process_drains(
    pool: Pool, postgres_restartable: PostgresDatabase, tmp_path: Path
) -> None:
    db = postgres_restartable
    spool = tmp_path / "spool"
    outcomes: list[tuple[str, str]] = []
    recorder = CatalogRecorder(Catalog(catalog_url(db.url, tmp_path), connect_timeout=2), spool,
                               retry_s=60, on_outcome=lambda k, o: outcomes.append((k, o)))  # fmt: skip
    try:
        assert recorder.record(item(0)) == "written"
        assert recorder.record(item(0)) == "duplicate"
        assert recorder.health()["status"] == "ok"
        db.stop()
        assert recorder.record(item(1)) == "spooled"  # found down (quick: the port is closed)
        started = time.monotonic()
        for n in range(2, 12):
            assert recorder.record(item(n)) == "spooled"
        # after the first failure nothing waits for the database (a generous bound: file writes)
        assert time.monotonic() - started < 5
        health = recorder.health()
        assert health["status"] == "down" and health["pending"] == 11
        assert health["failed"] >= 1 and "does not answer" in health["last_error"]
        assert "bst@127.0.0.1" in health["database"]
        assert outcomes[:3] == [("run", "written"), ("run", "duplicate"), ("run", "spooled")]
    finally:
        recorder.close()
    assert len(list(spool.glob("*.json"))) == 11  # the spool outlives its recorder

    total = pool.apply_async(drain_in_another_process, (db.url, str(spool)))
    time.sleep(1.0)  # the new process finds the database still down first
    db.start()
    assert total.get(timeout=120) == 12
    assert list(spool.glob("*.json")) == []


def test_recorder_on_a_sqlite_path_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the catalog's folder should be")
    spool = tmp_path / "spool"
    cat = Catalog(catalog_url(f"sqlite:///{blocker}/sub/catalog.sqlite3", tmp_path))
    recorder = CatalogRecorder(cat, spool, retry_s=60)
    try:
        assert recorder.record(item(1)) == "spooled"
        started = time.monotonic()
        assert recorder.record(item(2)) == "spooled"
        assert time.monotonic() - started < 5
        health = recorder.health()
        assert health["status"] == "down" and health["pending"] == 2
        assert "cannot create the catalog's folder" in health["last_error"]
        # fixed (the file gone): the spool reaches the database
        blocker.unlink()
        recorder.drain()  # the retry thread may send some of them first
        wait_for(lambda: recorder.pending() == 0, timeout=60)
        assert recorder.health()["status"] == "ok"
        assert cat.list_runs(RunQuery()).total == 2
    finally:
        recorder.close()


def test_a_corrupt_spool_file_is_set_aside(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "run-garbage.json").write_bytes(b"\x00{not json")
    (spool / "run-wrong.json").write_text('{"item": "run", "id": 5}')
    cat = Catalog(catalog_url(f"sqlite:///{tmp_path}/c.sqlite3", tmp_path))
    recorder = CatalogRecorder(cat, spool, retry_s=0.2)
    try:
        assert recorder.pending() == 2  # the two corrupt files, not yet looked at
        recorder._spool(item(7))  # a good record waiting with them (starts the retries)
        wait_for(lambda: recorder.pending() == 0, timeout=60)
        assert sorted(p.name for p in spool.iterdir()) == ["run-garbage.bad", "run-wrong.bad"]
        assert cat.list_runs(RunQuery()).total == 1
        assert recorder.drain() == 0  # never retried
        assert recorder.health()["status"] == "ok"
    finally:
        recorder.close()


def test_a_record_the_database_refuses_for_good_does_not_fail_the_call(
    postgres_url: str, tmp_path: Path
) -> None:
    # PostgreSQL enforces VARCHAR lengths (SQLite does not): a 41-char symbol is refused
    spool = tmp_path / "spool"
    recorder = CatalogRecorder(Catalog(catalog_url(postgres_url, tmp_path)), spool, retry_s=60)
    try:
        assert recorder.record(item(1, symbol="X" * 41)) == "spooled"
        assert recorder.pending() == 0 and len(list(spool.glob("*.bad"))) == 1
        assert recorder.record(item(2)) == "written"  # the database is not taken for down
        assert recorder.health()["status"] == "ok"
    finally:
        recorder.close()
