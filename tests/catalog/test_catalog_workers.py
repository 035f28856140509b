"""Real `bybit-tester worker` processes on a real redis-server write to the results
catalog (a SQLite file the processes share, or a real PostgreSQL): the server reads what
they recorded, the server's own record of the same result collapses into theirs, many
writers lose and double nothing, and a killed worker's rerun leaves one row."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import redis
from sqlalchemy import create_engine, text

import engine as E
import market as M
from mcp_server.candles import CandleSource
from mcp_server.catalog import Catalog, RunQuery, catalog_url, open_recorder
from mcp_server.events import make_event_bus
from mcp_server.jobs import JobService, job_events_url
from mcp_server.results import backtest_item, cache_key
from mcp_server.settings import CatalogSettings, JobsSettings, ServerSettings, Settings
from mcp_server.tools._args import SearchSpec, StrategySpec

sys.path.insert(0, str(Path(__file__).parents[1] / "jobs"))
from jobs_testkit import Workers, load, wait_event, wait_terminal

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SEARCH = SearchSpec(params={"fast": "3:12:1", "slow": [40, 60]}, strategy="sma_cross")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> CandleSource:
    return CandleSource(M.CandleStore(tmp_path_factory.mktemp("store")), max_bars=None)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared-catalog.sqlite3"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def jobs(
    redis_url: str, tmp_path: Path, database: str
) -> Iterator[tuple[JobService, Workers, Settings]]:
    """A JobService and real workers on one redis-server, all with DATABASE_URL=`database`."""
    settings = Settings(
        ServerSettings(data_dir=tmp_path, _env_file=None),  # type: ignore[call-arg]
        jobs=JobsSettings(
            broker_url=redis_url, visibility_timeout=10, job_retry_delay=0.2, _env_file=None  # type: ignore[call-arg]
        ),
        catalog=CatalogSettings(database_url=database, _env_file=None),  # type: ignore[call-arg]
    )
    service = JobService(settings, make_event_bus(job_events_url(settings)))
    env = {**os.environ, "BST_BROKER_URL": redis_url, "BST_VISIBILITY_TIMEOUT": "10",
           "BST_JOB_RETRY_DELAY": "0.2", "BST_DATA_DIR": str(tmp_path), "DATABASE_URL": database,
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "jobs"),
                                          os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    workers = Workers(env, tmp_path, service)
    try:
        yield service, workers, settings
    finally:
        workers.stop_all()
        service.close()
        redis.Redis.from_url(redis_url).flushall()


def _rows(settings: Settings, sql: str, **params: object) -> list[tuple]:  # type: ignore[type-arg]
    """Raw rows of the catalog (what is really stored, not what a listing shows)."""
    url = settings.catalog.database_url
    assert url is not None
    engine = create_engine(catalog_url(url.get_secret_value(), settings.server.data_dir))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def _catalog(settings: Settings) -> Catalog:
    from mcp_server.catalog import open_catalog

    return open_catalog(settings)


def test_a_workers_records_are_read_by_the_server(jobs, source: CandleSource) -> None:  # type: ignore[no-untyped-def]
    service, workers, settings = jobs
    workers.start("w1")
    data = load(source, bars=3000, seed=31)
    run = StrategySpec(strategy="sma_cross", params={"fast": 7, "slow": 40})
    bt = service.submit_backtest(data, run)
    grid = service.submit_search(data, SEARCH, chunks=2)
    for record in (bt, grid):
        done = wait_terminal(service, record.id, timeout=120)
        assert done.state == "succeeded", done.error or workers.log("w1")[-3000:]

    config = E.BacktestConfig.model_validate({})
    resolved = E.get_strategy("sma_cross").resolve_params(run.params)
    run_id = cache_key(data.fingerprint, "sma_cross", resolved, config)[:16]
    catalog = _catalog(settings)
    try:
        detail = catalog.get_run(run_id)  # the id the server gives the same backtest
        assert detail.job_id == bt.id and detail.origin.startswith("worker@")
        assert detail.metrics["n_trades"] == service.result(bt.id)["metrics"]["n_trades"]
        assert catalog.artifact(run_id, "trades") and catalog.artifact(run_id, "equity")
        assert run_id in [r.id for r in catalog.list_runs(RunQuery(strategy="sma_cross")).runs]

        oid = "opt-" + grid.id[:12]
        row, table = catalog.get_optimization(oid)
        assert row["kind"] == "grid" and table is not None
        assert table["rows"] == service.result(grid.id)["table"]
        assert row["evaluated"] == grid.total

        jobs_rows = {r["id"]: r for r in catalog.recent("jobs", 50)}
        for record, result_id in ((bt, run_id), (grid, oid)):
            got = jobs_rows[record.id]
            assert got["state"] == "succeeded" and got["worker"].startswith("w1@")
            assert got["attempts"] >= 1 and got["result_id"] == result_id
    finally:
        catalog.close()

    # the server's own records of the same results are duplicates of the workers'
    recorder = open_recorder(settings)
    try:
        result = E.backtest(data.candles, "sma_cross", resolved, config)
        assert recorder.record(backtest_item(data, result, config, "server")) == "duplicate"
        from mcp_server.context import AppContext
        from mcp_server.tools.optimize import job_answer

        context = AppContext(settings, local=True)
        answer = anyio.run(job_answer, context, "grid", grid.request, service.result(grid.id),
                           grid.id)  # fmt: skip
        anyio.run(context.aclose)
        assert answer["id"] == oid
    finally:
        recorder.close()
    assert _rows(settings, "SELECT count(*) FROM optimizations WHERE key = :k", k=grid.id) == [(1,)]
    assert _rows(settings, "SELECT count(*) FROM runs WHERE id = :i", i=run_id) == [(1,)]


def test_concurrent_writers_lose_and_double_nothing(jobs, source: CandleSource) -> None:  # type: ignore[no-untyped-def]
    service, workers, settings = jobs
    workers.start("w1")
    workers.start("w2")
    data = load(source, bars=2000, seed=32)
    distinct = [{"strategy": "sma_cross", "params": {"fast": f, "slow": 50}, "config": {}}
                for f in range(3, 15)]  # fmt: skip
    # every candidate twice, in different chunks: two processes record the same keys
    compare = service.submit_compare(data, distinct + distinct[::-1], {}, chunks=4)
    twins = [service.submit_backtest(data, StrategySpec(strategy="sma_cross",
                                                        params={"fast": 5, "slow": 50}))
             for _ in range(3)]  # fmt: skip
    config = E.BacktestConfig.model_validate({})

    def server() -> None:  # the server records the same backtests meanwhile
        recorder = open_recorder(settings)
        try:
            for cand in distinct:
                result = E.backtest(data.candles, "sma_cross", cand["params"], config)
                recorder.record(backtest_item(data, result, config, "server"))
        finally:
            recorder.close()

    thread = threading.Thread(target=server)
    thread.start()
    for record in (compare, *twins):
        done = wait_terminal(service, record.id, timeout=180)
        assert done.state == "succeeded", done.error or workers.log("w1")[-3000:]
    thread.join(timeout=120)

    keys = {cache_key(data.fingerprint, "sma_cross", E.get_strategy("sma_cross").resolve_params(c["params"]), config)
            for c in distinct}  # fmt: skip
    assert len(keys) == len(distinct)
    counts = dict(_rows(settings, "SELECT key, count(*) FROM runs GROUP BY key"))
    assert set(counts) == keys  # nothing lost, nothing else (fast=5 is one of them)
    assert set(counts.values()) == {1}  # nothing doubled
    metric_rows = _rows(
        settings, "SELECT run_id, count(*) FROM run_metrics WHERE name = 'sharpe' GROUP BY run_id"
    )
    assert sorted(n for _, n in metric_rows) == [1] * len(keys)
    states = dict(_rows(settings, "SELECT id, state FROM jobs"))
    assert {r.id for r in (compare, *twins)} <= set(states)
    assert {states[r.id] for r in (compare, *twins)} == {"succeeded"}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_killed_workers_rerun_leaves_one_row(jobs, source: CandleSource) -> None:  # type: ignore[no-untyped-def]
    service, workers, settings = jobs
    w1 = workers.start("w1")
    data = load(source, bars=30_000, seed=33)
    big = SearchSpec(params={"fast": "3:30:1", "slow": [40, 60, 90, 120]}, strategy="sma_cross")
    record = service.submit_search(data, big, chunks=6)
    wait_event(service, record.id, "chunk_done")  # mid-job: some chunks done, one running
    workers.kill(w1)
    workers.start("w2")
    done = wait_terminal(service, record.id, timeout=180)
    assert done.state == "succeeded", workers.log("w2")[-3000:]
    opt = _rows(settings, "SELECT id, kind FROM optimizations WHERE key = :k", k=record.id)
    assert opt == [("opt-" + record.id[:12], "grid")]
    job = _rows(settings, "SELECT state, worker, attempts FROM jobs WHERE id = :i", i=record.id)
    assert len(job) == 1 and job[0][0] == "succeeded" and job[0][1].startswith("w2@")
    assert job[0][2] >= 1
