"""The PostgreSQL fixtures work: real servers on loopback, reachable with psycopg and with
SQLAlchemy, a fresh database per test, and a private server that survives stop/start and kill."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from servers_testkit import PostgresDatabase, PostgresServer, pg_kill, pg_start, pg_stop


def _tables(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return sorted(row[0] for row in rows)


def _conninfo(sqlalchemy_url: str) -> str:
    return sa.make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_psycopg_creates_a_table_and_reads_it_back(postgres_url: str) -> None:
    conninfo = _conninfo(postgres_url)
    with psycopg.connect(conninfo) as conn:
        conn.execute("CREATE TABLE runs (id serial PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO runs (name) VALUES (%s), (%s)", ("a", "b"))
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT name FROM runs ORDER BY id").fetchall() == [("a",), ("b",)]


def test_sqlalchemy_engine_creates_a_table_and_reads_it_back(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        meta = sa.MetaData()
        runs = sa.Table("runs", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("score", sa.Float))
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(runs.insert(), [{"score": 1.5}, {"score": -2.0}])
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.sum(runs.c.score))).scalar_one() == -0.5
            assert conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
    finally:
        engine.dispose()


_SEEN: list[str] = []  # databases handed out by earlier rounds below


@pytest.mark.parametrize("round_", [1, 2])
def test_each_postgres_url_is_a_different_empty_database(
    round_: int, postgres_url: str, postgres_server: PostgresServer
) -> None:
    name = sa.make_url(postgres_url).database
    assert name is not None and name.startswith("bst_") and name not in _SEEN
    assert _tables(_conninfo(postgres_url)) == []
    with psycopg.connect(_conninfo(postgres_url)) as conn:
        conn.execute("CREATE TABLE mine (x int)")  # fails in a reused database
    assert _tables(_conninfo(postgres_url)) == ["mine"]
    with psycopg.connect(postgres_server.conninfo()) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert name in existing
    assert not existing & set(_SEEN), "an earlier test's database was not dropped"
    _SEEN.append(name)


def test_restartable_server_keeps_its_data_and_port_across_stop_and_start(
    postgres_restartable: PostgresDatabase,
) -> None:
    db = postgres_restartable
    port, data_dir = db.server.port, db.server.data_dir
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (1), (2)")
    first_pid = db.server.pid
    assert first_pid is not None

    db.stop()
    assert db.server.pid is None
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(db.conninfo, connect_timeout=5).close()

    db.start()
    assert (db.server.port, db.server.data_dir) == (port, data_dir)
    assert db.server.pid is not None and db.server.pid != first_pid
    engine = sa.create_engine(db.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT sum(x) FROM kept")).scalar_one() == 3
    finally:
        engine.dispose()


def test_restartable_server_recovers_committed_data_after_a_kill(postgres_restartable: PostgresDatabase) -> None:
    db = postgres_restartable
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    pid = db.server.pid
    assert pid is not None
    backend = psycopg.connect(db.conninfo)  # a backend process that must die with it
    try:
        backend_pid = backend.info.backend_pid
        pg_kill(db.server)
        assert not _running(pid) and not _running(backend_pid)
    finally:
        backend.close()

    pg_start(db.server)
    with psycopg.connect(db.conninfo) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(7,)]
    pg_stop(db.server)
    assert not _running(pid)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


_FAILING = """
import os
from pathlib import Path

def test_session_server(postgres_url, postgres_server):
    Path(os.environ["PIDS"]).open("a").write(f"{postgres_server.pid} {postgres_server.base_dir}\\n")
    raise AssertionError("boom")

def test_restartable(postgres_restartable):
    server = postgres_restartable.server
    Path(os.environ["PIDS"]).open("a").write(f"{server.pid} {server.base_dir}\\n")
    raise AssertionError("boom")
"""


@pytest.mark.slow
def test_failing_tests_leave_no_server_and_no_files_behind(tmp_path: Path) -> None:
    (tmp_path / "test_failing.py").write_text(_FAILING)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    pids = tmp_path / "pids.txt"
    tests_dir = Path(__file__).parent
    env = {**os.environ, "PIDS": str(pids), "PYTHONPATH": os.pathsep.join([str(tests_dir), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider", "test_failing.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1 and "2 failed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    started = [line.split(" ", 1) for line in pids.read_text().splitlines()]
    assert len(started) == 2
    for pid, base_dir in started:
        assert not _running(int(pid)), f"postgres {pid} outlived its failing test"
        assert not Path(base_dir).exists()
