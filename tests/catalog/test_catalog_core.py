"""The catalog core on SQLite and on a real PostgreSQL: migrations (up, down, up; models and
revisions agree), schema version checks, DATABASE_URL errors, idempotent writes, job rows
that never go back, tags, and run listings (filters, metric sorts, pages, unknown metrics)."""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from mcp_server.catalog import (
    BackfillItem,
    Catalog,
    JobItem,
    OptimizationItem,
    RunItem,
    RunQuery,
    catalog_url,
    downgrade,
    schema_state,
    upgrade,
)
from mcp_server.catalog._schema import Base
from mcp_server.errors import (
    CatalogConfigError,
    CatalogUnavailableError,
    CatalogVersionError,
    RunNotFoundError,
    UnknownMetricError,
)

TABLES = {"runs", "run_metrics", "run_tags", "optimizations", "jobs", "backfill_audit", "artifacts"}
T0 = 1_780_000_000.0  # a fixed clock: created times are part of what the listings sort by


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of this test's own, on each dialect."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/catalog.sqlite3"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def catalog(db_url: str, tmp_path: Path) -> Iterator[Catalog]:
    cat = Catalog(catalog_url(db_url, tmp_path), connect_timeout=3)
    cat.open()
    yield cat
    cat.close()


def run(n: int, *, symbol: str = "BTCUSDT", strategy: str = "ema_cross", interval: str = "60",
        created: float | None = None, **metrics: float) -> RunItem:  # fmt: skip
    key = f"{n:016x}" + "k" * 48
    summary = {"symbol": symbol, "interval": interval, "bars": 1000, "source": "sample",
               "start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z",
               "metrics": {"sharpe": 1.0, "total_return": 0.1, "n_trades": 10, **metrics}}  # fmt: skip
    request = {"strategy": strategy, "params": {"fast": n}, "config": {},
               "data": {"source": "sample", "category": "linear"}, "fingerprint": "f" * 16}  # fmt: skip
    return RunItem(id=key[:16], key=key, created=T0 + n if created is None else created,
                   request=request, summary=summary, trades=b"\x93NUMPY", equity=b"")  # fmt: skip


# -- migrations ---------------------------------------------------------------------------
def test_migrations_up_down_up_and_models_agree(db_url: str, tmp_path: Path) -> None:
    cat = Catalog(catalog_url(db_url, tmp_path))
    try:
        engine = cat.engine()
        assert schema_state(engine).current is None
        state = upgrade(engine, cat.where)
        assert state.up_to_date and state.known
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"the models and migration 0001 differ: {diff}"

        state = downgrade(engine, cat.where, "base")
        assert state.current is None
        assert not TABLES & set(inspect(engine).get_table_names())

        assert upgrade(engine, cat.where).up_to_date
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert cat.write(run(1))  # the schema upgraded twice takes writes
    finally:
        cat.close()


def test_a_newer_schema_is_refused_with_the_upgrade_advice(catalog: Catalog, tmp_path: Path) -> None:
    with catalog.engine().begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    other = Catalog(catalog.url)
    try:
        with pytest.raises(CatalogVersionError) as err:
            other.open()
        msg = str(err.value)
        assert "9999_future" in msg and "newer" in msg and "Upgrade this one" in msg
        with pytest.raises(CatalogVersionError):  # nor does an explicit upgrade touch it
            upgrade(other.engine(), other.where)
    finally:
        other.close()


def test_an_older_schema_without_auto_upgrade_names_the_command(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = catalog_url(db_url, tmp_path)
    first = Catalog(url)
    try:
        upgrade(first.engine(), first.where)
        # 0001 is the first revision: an older one is a revision this package knows that
        # is not its head, so "0000_older" is made known for this test
        with first.engine().begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0000_older'"))
    finally:
        first.close()
    import mcp_server.catalog._migrate as migrate

    known = migrate._known
    monkeypatch.setattr(migrate, "_known", lambda scripts, rev: rev == "0000_older" or known(scripts, rev))
    cat = Catalog(url, auto_upgrade=False)
    try:
        state = cat.state()
        assert state.known and not state.newer and not state.up_to_date
        with pytest.raises(CatalogVersionError, match="bybit-tester db upgrade"):
            cat.open()
    finally:
        cat.close()


def test_an_empty_database_is_created_even_without_auto_upgrade(db_url: str, tmp_path: Path) -> None:
    cat = Catalog(catalog_url(db_url, tmp_path), auto_upgrade=False)
    try:
        assert cat.open().up_to_date
    finally:
        cat.close()


# -- DATABASE_URL -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        "not a url",
        "mysql://u:s3cr3t-pw@db.example/x",
        "postgresql://u:s3cr3t-pw@/nohost",
        "postgres://u:s3cr3t-pw@host:99999/x",
        "sqlite://",
        "sqlite:///:memory:",
        "://u:s3cr3t-pw@host/x",
        "http://u:s3cr3t-pw@host/x",
    ],
)
def test_malformed_database_urls_say_so_without_the_password(bad: str, tmp_path: Path) -> None:
    with pytest.raises(CatalogConfigError) as err:
        catalog_url(bad, tmp_path)
    assert "s3cr3t" not in str(err.value)
    assert "DATABASE_URL" in str(err.value)


def test_urls_are_normalised_to_psycopg_and_sqlite(tmp_path: Path) -> None:
    assert catalog_url(None, tmp_path).database == str(tmp_path / "catalog.sqlite3")
    assert catalog_url("", tmp_path).get_backend_name() == "sqlite"
    for scheme in ("postgres", "postgresql"):
        url = catalog_url(f"{scheme}://u:pw@127.0.0.1:5432/db", tmp_path)
        assert url.drivername == "postgresql+psycopg"
        assert "pw" not in Catalog(url).where


def test_an_unreachable_postgres_is_unavailable_within_seconds(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cat = Catalog(catalog_url(f"postgresql://bst:s3cr3t-pw@127.0.0.1:{port}/x", tmp_path),
                  connect_timeout=2)  # fmt: skip
    started = time.monotonic()
    try:
        with pytest.raises(CatalogUnavailableError) as err:
            cat.open()
        assert time.monotonic() - started < 15
        assert "s3cr3t" not in str(err.value) and str(port) in str(err.value)
        with pytest.raises(CatalogUnavailableError):
            cat.write(run(1))
    finally:
        cat.close()


# -- writes -------------------------------------------------------------------------------
def test_writes_are_idempotent(catalog: Catalog) -> None:
    assert catalog.write(run(1)) is True
    assert catalog.write(run(1)) is False
    assert catalog.get_run(run(1).id).params == {"fast": 1}
    assert catalog.list_runs(RunQuery()).total == 1
    assert catalog.artifact(run(1).id, "trades") == b"\x93NUMPY"

    opt = OptimizationItem(id="opt-abc", key="o" * 64, kind="grid",
                           request={"symbol": "BTCUSDT", "strategy": "ema_cross", "objective": "sharpe"},
                           summary={"evaluated": 3, "best": {"params": {"fast": 5}, "score": 1.5,
                                                             "metrics": {"sharpe": math.nan}}},
                           table=b"x\x9c\xab\xae\x05\x00\x01u\x00\xf9")  # zlib of {}  # fmt: skip
    assert catalog.write(opt) is True
    assert catalog.write(opt) is False
    row, table = catalog.get_optimization("opt-abc")
    assert row["best_score"] == 1.5 and row["best_metrics"] == {"sharpe": None}
    assert table == {}
    assert len(catalog.recent("optimizations")) == 1

    fill = BackfillItem(id="bf-1", symbol="BTCUSDT", interval="60", category="linear", start_ms=0,
                        end_ms=1000, upserts=10, pages=1, elapsed_s=0.5, source="bybit")  # fmt: skip
    assert catalog.write(fill) is True
    assert catalog.write(fill) is False
    assert [r["id"] for r in catalog.recent("backfill_audit")] == ["bf-1"]


def test_job_rows_never_go_back_and_merge_fields(catalog: Catalog) -> None:
    base = {"id": "job-1", "kind": "backtest", "created": T0}
    assert catalog.write(JobItem(**base, state="queued"))
    assert catalog.write(JobItem(**base, state="running", started=T0 + 1, worker="w1", attempts=1))
    assert catalog.write(JobItem(**base, state="succeeded", finished=T0 + 5, result_id="r1"))
    # a late "running" (a retried event) and a second terminal state change nothing
    assert catalog.write(JobItem(**base, state="running", started=T0 + 9, worker="w2")) is False
    assert catalog.write(JobItem(**base, state="failed", error="late")) is False
    (row,) = catalog.recent("jobs")
    assert row["state"] == "succeeded" and row["worker"] == "w1" and row["attempts"] == 1
    assert row["result_id"] == "r1" and row["error"] is None
    assert row["started"].startswith(datetime.fromtimestamp(T0 + 1, UTC).isoformat()[:19])
    assert row["finished"] is not None


def test_nan_and_infinite_metrics_become_none(catalog: Catalog) -> None:
    item = run(2, sharpe=math.nan, profit_factor=math.inf, sortino=-math.inf)
    assert catalog.write(item)
    detail = catalog.get_run(item.id)
    assert detail.metrics["sharpe"] is None and detail.metrics["profit_factor"] is None
    assert detail.metrics["sortino"] is None and detail.metrics["total_return"] == 0.1
    with catalog.engine().connect() as conn:
        names = set(conn.execute(text("SELECT name FROM run_metrics WHERE run_id = :r"),
                                 {"r": item.id}).scalars())  # fmt: skip
    assert names == {"total_return", "n_trades"}  # non-finite values are no rows
    # and the run is listed last when sorted by the metric it lacks
    catalog.write(run(3, sharpe=-5.0))
    for descending in (True, False):
        page = catalog.list_runs(RunQuery(sort="sharpe", descending=descending))
        assert [r.id for r in page.runs][-1] == item.id


def test_tags_and_notes(catalog: Catalog) -> None:
    item = run(4)
    catalog.write(item)
    detail = catalog.tag_run(item.id, ["best", "v2", "best"], [], "keep this one")
    assert detail.tags == ["best", "v2"] and detail.note == "keep this one"
    detail = catalog.tag_run(item.id, ["x:y"], ["v2", "absent"], None)
    assert detail.tags == ["best", "x:y"] and detail.note == "keep this one"
    with pytest.raises(ValueError, match="no spaces"):
        catalog.tag_run(item.id, ["has space"], [], None)
    with pytest.raises(RunNotFoundError):
        catalog.tag_run("0" * 16, ["a"], [], None)
    with pytest.raises(RunNotFoundError):
        catalog.get_run("nope")


# -- listings -----------------------------------------------------------------------------
@pytest.fixture
def listed(catalog: Catalog) -> Catalog:
    """12 runs: 3 symbols x 2 strategies x 2 intervals, sharpe = n/10 (run 5 has none)."""
    symbols, strategies = ("BTCUSDT", "ETHUSDT", "SOLUSDT"), ("ema_cross", "rsi")
    for n in range(12):
        metrics: dict[str, Any] = {"sharpe": n / 10, "total_return": (n % 4) / 100}
        if n == 5:
            metrics["sharpe"] = math.nan
        catalog.write(run(n, symbol=symbols[n % 3], strategy=strategies[n % 2],
                          interval="60" if n < 6 else "15", **metrics))  # fmt: skip
    for n in (1, 2, 3):
        catalog.tag_run(run(n).id, ["keep"], [], None)
    return catalog


def ids(page: Any) -> list[int]:
    return [int(r.id, 16) for r in page.runs]


def test_list_filters(listed: Catalog) -> None:
    lr = listed.list_runs
    assert ids(lr(RunQuery(symbol="ethusdt"))) == [10, 7, 4, 1]  # created desc
    assert ids(lr(RunQuery(strategy="rsi", interval="15"))) == [11, 9, 7]
    assert ids(lr(RunQuery(tag="keep", descending=False))) == [1, 2, 3]
    assert lr(RunQuery(tag="keep")).runs[0].tags == ["keep"]
    since = datetime.fromtimestamp(T0 + 3, UTC)
    until = datetime.fromtimestamp(T0 + 6, UTC)
    assert ids(lr(RunQuery(since=since, until=until, descending=False))) == [3, 4, 5]
    assert ids(lr(RunQuery(metric_min={"sharpe": 0.8}))) == [11, 10, 9, 8]
    assert ids(lr(RunQuery(metric_max={"sharpe": 0.2}, metric_min={"total_return": 0.01}))) == [2, 1]
    assert lr(RunQuery(symbol="NONE")).total == 0


def test_list_sorts_by_metrics_with_missing_last(listed: Catalog) -> None:
    desc = ids(listed.list_runs(RunQuery(sort="sharpe", limit=50)))
    assert desc == [11, 10, 9, 8, 7, 6, 4, 3, 2, 1, 0, 5]
    asc = ids(listed.list_runs(RunQuery(sort="sharpe", descending=False, limit=50)))
    assert asc == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 5]
    page = listed.list_runs(RunQuery(sort="total_return", symbol="BTCUSDT"))
    values = [r.metrics["total_return"] for r in page.runs]
    assert values == sorted(values, reverse=True)
    # a bound and a sort together, and the runs lacking the sort metric after the others
    bound = {"total_return": 0.01}
    assert ids(listed.list_runs(RunQuery(sort="sharpe", metric_min=bound))) == [11, 10, 9, 7, 6, 3, 2, 1, 5]
    tail = listed.list_runs(RunQuery(sort="sharpe", metric_min=bound, limit=4, offset=6))
    assert ids(tail) == [2, 1, 5] and tail.total == 9 and tail.next_offset is None
    assert ids(listed.list_runs(RunQuery(sort="sharpe", descending=False, interval="60",
                                         strategy="rsi"))) == [1, 3, 5]  # fmt: skip
    assert ids(listed.list_runs(RunQuery(sort="sharpe", tag="keep", symbol="SOLUSDT"))) == [2]
    odd = listed.list_runs(RunQuery(sort="sortino"))  # nobody has it: all last, all listed
    assert odd.total == 12 and "sortino" in odd.runs[0].metrics


def test_list_pages(listed: Catalog) -> None:
    seen: list[int] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = listed.list_runs(RunQuery(sort="sharpe", limit=5, offset=offset))
        assert page.total == 12 and page.offset == offset
        seen += ids(page)
        offset = page.next_offset
        pages += 1
    assert pages == 3 and seen == ids(listed.list_runs(RunQuery(sort="sharpe", limit=50)))
    beyond = listed.list_runs(RunQuery(offset=40))
    assert beyond.runs == [] and beyond.next_offset is None and beyond.total == 12


def test_unknown_metrics_are_refused_with_the_known_ones(listed: Catalog) -> None:
    for query in (RunQuery(sort="sharpie"), RunQuery(metric_min={"sharpie": 1}),
                  RunQuery(metric_max={"drop table": 1})):  # fmt: skip
        with pytest.raises(UnknownMetricError) as err:
            listed.list_runs(query)
        assert "sharpe" in str(err.value) and "known" in str(err.value)
