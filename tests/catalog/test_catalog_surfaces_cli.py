"""`bybit-tester runs list|show|compare|tag` and `db upgrade|downgrade|current` through the
Typer runner, on SQLite and on a real PostgreSQL (postgres_url: a fresh empty database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from surfaces_testkit import open_test_catalog, store_run, three_runs
from typer.testing import CliRunner, Result

from mcp_server.cli import app as cli
from mcp_server.errors import EXIT_FAILURE, EXIT_USAGE


def _run(url: str, tmp: Path, *args: str) -> Result:
    env = {"DATABASE_URL": url, "BST_DATA_DIR": str(tmp / "data"), "COLUMNS": "200"}
    return CliRunner().invoke(cli, list(args), env=env)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cli.sqlite3"


@pytest.fixture
def stored(sqlite_url: str) -> dict[str, dict[str, Any]]:
    return three_runs(sqlite_url)


def test_runs_list_filters_sorts_and_pages(tmp_path: Path, sqlite_url: str, stored: dict[str, Any]) -> None:
    table = _run(sqlite_url, tmp_path, "runs", "list")
    assert table.exit_code == 0, table.output
    assert all(stored[k]["id"] in table.stdout for k in stored) and "sharpe" in table.stdout
    page = _json(_run(sqlite_url, tmp_path, "runs", "list", "--json", "--symbol", "BTCUSDT",
                      "--sort", "total_return", "--ascending"))  # fmt: skip
    returns = sorted(stored[k]["metrics"]["total_return"] for k in ("ema", "sma"))
    assert [r["metrics"]["total_return"] for r in page["runs"]] == pytest.approx(returns, abs=1e-3)
    low = min(stored[k]["metrics"]["sharpe"] for k in stored)
    bounded = _json(_run(sqlite_url, tmp_path, "runs", "list", "--json", "--min", f"sharpe:{low + 1e-9}"))
    assert bounded["total"] == 2 and low not in [r["metrics"]["sharpe"] for r in bounded["runs"]]
    dated = _json(_run(sqlite_url, tmp_path, "runs", "list", "--json", "--since", "2025-06-16", "--until", "2025-06-16"))
    assert [r["id"] for r in dated["runs"]] == [stored["sma"]["id"]]
    first = _json(_run(sqlite_url, tmp_path, "runs", "list", "--json", "--limit", "2"))
    assert first["next_offset"] == 2 and len(first["runs"]) == 2

    bad = _run(sqlite_url, tmp_path, "runs", "list", "--sort", "luck")
    assert bad.exit_code == EXIT_USAGE and "luck" in bad.stderr and "sharpe" in bad.stderr
    assert "Traceback" not in bad.output
    bad = _run(sqlite_url, tmp_path, "runs", "list", "--max", "drawdown=0.2")
    assert bad.exit_code == EXIT_USAGE and "metric:value" in bad.stderr


def test_runs_show_tag_and_compare(tmp_path: Path, sqlite_url: str, stored: dict[str, Any]) -> None:
    ema, sma = stored["ema"]["id"], stored["sma"]["id"]
    shown = _run(sqlite_url, tmp_path, "runs", "show", ema)
    assert shown.exit_code == 0 and "fast=10,slow=30" in shown.stdout and "sortino" in shown.stdout
    body = _json(_run(sqlite_url, tmp_path, "runs", "show", ema, "--json"))
    assert body["run"]["id"] == ema and body["resources"]["trades"] == f"backtest://{ema}/trades"

    tagged = _json(_run(sqlite_url, tmp_path, "runs", "tag", ema, "--add", "best", "--add", "q3",
                        "--note", "the keeper", "--json"))  # fmt: skip
    assert tagged == {"id": ema, "tags": ["best", "q3"], "note": "the keeper"}
    tagged = _json(_run(sqlite_url, tmp_path, "runs", "tag", ema, "--remove", "q3", "--json"))
    assert tagged["tags"] == ["best"] and tagged["note"] == "the keeper"
    listed = _json(_run(sqlite_url, tmp_path, "runs", "list", "--tag", "best", "--json"))
    assert [r["id"] for r in listed["runs"]] == [ema]
    bad = _run(sqlite_url, tmp_path, "runs", "tag", ema, "--add", "no spaces please")
    assert bad.exit_code == EXIT_USAGE and "no spaces please" in bad.stderr

    compared = _run(sqlite_url, tmp_path, "runs", "compare", ema, sma)
    assert compared.exit_code == 0, compared.output
    better = ema if stored["ema"]["metrics"]["sharpe"] > stored["sma"]["metrics"]["sharpe"] else sma
    sharpe_row = next(line for line in compared.stdout.splitlines() if line.strip("│ ").startswith("sharpe "))
    cells = [c.strip() for c in sharpe_row.strip("│").split("│")]
    worse = sma if better == ema else ema
    assert cells[[ema, sma].index(better) + 1].endswith("*")
    assert not cells[[ema, sma].index(worse) + 1].endswith("*")
    as_json = _json(_run(sqlite_url, tmp_path, "runs", "compare", ema, sma, stored["rsi"]["id"], "--json"))
    assert as_json["best"]["sharpe"] == [max((stored[k] for k in stored), key=lambda s: s["metrics"]["sharpe"])["id"]]
    assert "different data sets" in as_json["data"]

    missing = _run(sqlite_url, tmp_path, "runs", "show", "ffffffffffffffff")
    assert missing.exit_code == EXIT_USAGE and "ffffffffffffffff" in missing.stderr
    one = _run(sqlite_url, tmp_path, "runs", "compare", ema)
    assert one.exit_code == EXIT_USAGE


def _db_cycle(url: str, tmp: Path, where: str) -> None:
    """current (empty) -> upgrade -> current (up to date) -> downgrade base (needs --yes)."""
    empty = _json(_run(url, tmp, "db", "current", "--json"))
    assert empty["current"] is None and empty["up_to_date"] is False and empty["head"]
    assert where in empty["database"]
    up = _json(_run(url, tmp, "db", "upgrade", "--json"))
    assert up["current"] == up["head"] and up["up_to_date"] is True
    shown = _run(url, tmp, "db", "current")
    assert shown.exit_code == 0 and "up to date" in shown.stdout

    refused = _run(url, tmp, "db", "downgrade", "base")
    assert refused.exit_code == EXIT_USAGE and "--yes" in refused.stderr
    assert _json(_run(url, tmp, "db", "current", "--json"))["current"] == up["head"]
    down = _json(_run(url, tmp, "db", "downgrade", "base", "--yes", "--json"))
    assert down["current"] is None
    again = _json(_run(url, tmp, "db", "upgrade", "--json"))
    assert again["up_to_date"] is True

    unknown = _run(url, tmp, "db", "upgrade", "nosuchrev")
    assert unknown.exit_code == EXIT_USAGE and "nosuchrev" in unknown.stderr


def test_db_commands_on_an_empty_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.sqlite3"
    _db_cycle(url, tmp_path, "fresh.sqlite3")
    catalog = open_test_catalog(url)
    rid = store_run(catalog)["id"]  # the upgraded schema takes runs
    catalog.close()
    assert rid in _run(url, tmp_path, "runs", "list").stdout


def test_db_commands_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    _db_cycle(postgres_url, tmp_path, "postgresql+psycopg://")
    catalog = open_test_catalog(postgres_url)
    rid = store_run(catalog, strategy="macd_cross")["id"]
    catalog.close()
    listed = _json(_run(postgres_url, tmp_path, "runs", "list", "--json", "--strategy", "macd_cross"))
    assert [r["id"] for r in listed["runs"]] == [rid]


def test_bad_database_urls_are_one_line_errors(tmp_path: Path) -> None:
    malformed = _run("mysql+nothing://x/y", tmp_path, "db", "current")
    assert malformed.exit_code == EXIT_USAGE and "DATABASE_URL" in malformed.stderr
    assert "Traceback" not in malformed.output
    down = _run("postgresql://bst:hunter2@127.0.0.1:9/nothing", tmp_path, "runs", "list")
    assert down.exit_code == EXIT_FAILURE and "does not answer" in down.stderr
    assert "hunter2" not in down.output and "Traceback" not in down.output
    down = _run("postgresql://bst:hunter2@127.0.0.1:9/nothing", tmp_path, "db", "current")
    assert down.exit_code == EXIT_FAILURE and "hunter2" not in down.output
