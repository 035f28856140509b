"""Shared test set-up: no test may reach the internet."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_testkit import LAUNCH_ARGS, find_chromium
from servers_testkit import (
    PostgresDatabase,
    PostgresServer,
    find_postgres_bin,
    init_postgres,
    pg_owned_dir,
    pg_scratch_dir,
    pg_stop,
    start_postgres,
    start_redis,
    stop,
)

_LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")
_CATALOG_DIR: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """The results catalog of the whole run is a SQLite file of its own (set before any
    settings are read, and inherited by CLI and worker subprocesses), so tests never write
    to the user's data directory. A test that needs its own catalog sets DATABASE_URL."""
    if "DATABASE_URL" not in os.environ:
        folder = tempfile.mkdtemp(prefix="bst-catalog-")
        _CATALOG_DIR.append(folder)
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/catalog.sqlite3"


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _CATALOG_DIR:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse outbound connections to anything but loopback."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(host, str) and not host.startswith(_LOOPBACK) and self.family in (
            socket.AF_INET,
            socket.AF_INET6,
        ):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port, for the whole session."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("BST_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server binary not found and BST_REQUIRE_REDIS=1")
        pytest.skip(
            "redis-server binary not found (apt-get install redis-server); set BST_REQUIRE_REDIS=1 to fail instead"
        )
    try:
        proc, port = start_redis(binary, tmp_path_factory.mktemp("redis"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield f"redis://127.0.0.1:{port}/0"
    stop(proc)


@pytest.fixture(scope="session")
def _postgres_install() -> Iterator[tuple[Path, Path, Path]]:
    """(bin dir, root dir, pristine data dir) for private PostgreSQL clusters: initdb runs once,
    every server copies its result. The root (a `pg_scratch_dir`) is removed at the end."""
    bin_dir = find_postgres_bin()
    reason = None
    if bin_dir is None:
        reason = "PostgreSQL binaries not found (apt-get install postgresql)"
    elif os.geteuid() == 0 and not _user_exists("postgres"):
        reason = "running as root but there is no `postgres` user to run the server as"
    if reason is not None:
        if os.environ.get("BST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} and BST_REQUIRE_POSTGRES=1")
        pytest.skip(f"{reason}; set BST_REQUIRE_POSTGRES=1 to fail instead")
    assert bin_dir is not None
    root = pg_scratch_dir()
    try:
        template = pg_owned_dir(root / "template") / "data"
        try:
            init_postgres(bin_dir, template)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield bin_dir, root, template
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _start_private_postgres(install: tuple[Path, Path, Path]) -> PostgresServer:
    bin_dir, root, template = install
    try:
        return start_postgres(bin_dir, root / f"server-{uuid.uuid4().hex[:12]}", template)
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def postgres_server(_postgres_install: tuple[Path, Path, Path]) -> Iterator[PostgresServer]:
    """A private PostgreSQL on a free loopback port, for the whole session (superuser `bst`,
    trust auth). Tests take a database of their own from `postgres_url`; a test that stops the
    server uses `postgres_restartable` instead."""
    server = _start_private_postgres(_postgres_install)
    try:
        yield server
    finally:
        pg_stop(server)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database on the session server, dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"bst_{uuid.uuid4().hex}"
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres_server.url(name)
    finally:
        # FORCE: connections the test (or a pool it forgot to dispose of) left open
        with psycopg.connect(postgres_server.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def postgres_restartable(_postgres_install: tuple[Path, Path, Path]) -> Iterator[PostgresDatabase]:
    """Database `bst` on a private server of this test's own, which the test may stop, kill
    and start again (same port, same data) without disturbing other tests."""
    import psycopg

    server = _start_private_postgres(_postgres_install)
    try:
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bst")
        yield PostgresDatabase(server, "bst")
    finally:
        pg_stop(server)
        shutil.rmtree(server.base_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium (Debian's package, driven by Playwright), one per test module: the
    sync API keeps its event loop running while it is open, and every async test that ran
    after it in the session failed ("Runner.run() cannot be called from a running event
    loop"), so it closes with the (sync-only) module that used it."""
    binary = find_chromium()
    if binary is None:
        if os.environ.get("BST_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium not found and BST_REQUIRE_CHROMIUM=1")
        pytest.skip("chromium not found (apt-get install chromium); set BST_REQUIRE_CHROMIUM=1 to fail instead")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=binary, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (own context) that records console errors and page errors in `page.errors`."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    tab.errors = errors
    try:
        yield tab
    finally:
        context.close()
