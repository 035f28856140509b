"""`serve` refuses a catalog it cannot keep results in (one line, the table's exit code, no
traceback); the other commands work without one and say so once on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from servers_testkit import free_port

from mcp_server.catalog import Catalog, catalog_url


def _cli(tmp: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "BST_DATA_DIR": str(tmp / "store"),
           "BST_CACHE_URL": "memory://", "BST_LOG_LEVEL": "WARNING"}  # fmt: skip
    env.pop("BST_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "mcp_server.cli", *args], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)  # fmt: skip


def _newer_sqlite(tmp: Path) -> str:
    """A SQLite catalog stamped with a revision this version does not know."""
    url = f"sqlite:///{tmp}/newer.sqlite3"
    catalog = Catalog(catalog_url(url, tmp))
    catalog.open()
    with catalog.engine().begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff00000099'"))
    catalog.close()
    return url


@pytest.mark.parametrize(
    ("case", "code", "said"),
    [("malformed", 2, "fix DATABASE_URL"), ("unreachable", 1, "does not answer"),
     ("newer", 2, "ffff00000099")],
)  # fmt: skip
def test_serve_refuses_a_catalog_it_cannot_use(tmp_path: Path, case: str, code: int, said: str) -> None:
    url = {
        "malformed": "notadatabase://",
        "unreachable": f"postgresql://bst@127.0.0.1:{free_port()}/bst",  # nothing listens there
        "newer": _newer_sqlite(tmp_path) if case == "newer" else "",
    }[case]
    for transport in ("stdio", "http"):
        done = _cli(tmp_path, url, "serve", "--transport", transport, "--port", str(free_port()))
        assert done.returncode == code, (transport, done.stderr)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and said in errors[0], done.stderr
        assert "Traceback" not in done.stderr


def test_demo_and_backtest_work_without_the_catalog(tmp_path: Path) -> None:
    unreachable = f"postgresql://bst@127.0.0.1:{free_port()}/bst"
    demo = _cli(tmp_path, unreachable, "demo", "--bars", "2000", "--out", str(tmp_path / "demo.png"))
    assert demo.returncode == 0, demo.stderr
    assert "Total return" in demo.stdout and "catalog" not in demo.stdout
    said = [line for line in demo.stderr.splitlines() if "results catalog unavailable" in line]
    assert len(said) == 1 and "recorded when it is back" in said[0], demo.stderr
    assert len(list((tmp_path / "store" / "catalog-spool").glob("*.json"))) == 1  # kept for later

    bad = _cli(tmp_path, "notadatabase://", "backtest", "--bars", "2000", "--json")
    assert bad.returncode == 0, bad.stderr
    assert json.loads(bad.stdout)["strategy"] == "ema_cross"
    said = [line for line in bad.stderr.splitlines() if "results catalog unavailable" in line]
    assert len(said) == 1 and said[0].endswith("not recorded"), bad.stderr


def test_demo_records_its_run_in_the_sqlite_catalog(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/catalog.sqlite3"
    done = _cli(tmp_path, url, "demo", "--bars", "2000", "--out", str(tmp_path / "demo.png"))
    assert done.returncode == 0 and "catalog" not in done.stderr, done.stderr
    catalog = Catalog(catalog_url(url, tmp_path))
    try:
        runs = catalog.recent("runs")
    finally:
        catalog.close()
    assert len(runs) == 1 and runs[0]["strategy"] == "ema_cross" and runs[0]["origin"].startswith("cli@")
