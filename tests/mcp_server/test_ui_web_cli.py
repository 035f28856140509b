"""The page addresses: run_backtest carries one while the HTTP server runs, `backtest --open`
opens it, `demo` prints it, `ui-link` mints one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from ui_web_testkit import UiServer, ui_server, ui_settings

from mcp_server.cli import app as cli
from mcp_server.context import AppContext
from mcp_server.runfile import RUN_FILE, advertised

TOKEN = "cli-page-token"
runner = CliRunner()


def _cli_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, srv: UiServer, token: str | None
) -> list[str]:
    """The CLI's environment pointing at `srv`'s data dir; the URLs it opens."""
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("BST_DATA_DIR", str(srv.settings.server.data_dir))
    monkeypatch.setenv("BST_CACHE_URL", "memory://")
    if token:
        monkeypatch.setenv("BST_HTTP_TOKEN", token)
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    return opened


def _open_page(url: str) -> httpx.Response:
    """Follow the link as a browser would: the login sets the cookie, then the page."""
    with httpx.Client(timeout=60, follow_redirects=True) as browser:
        login = browser.get(url)
        assert login.status_code == 200, login.text
        target = login.text.split("url=", 1)[1].split('"', 1)[0]
        return browser.get(url.split("/ui/login", 1)[0] + target)


def test_backtest_open_runs_on_the_server_and_opens_a_signed_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ui_server(tmp_path, TOKEN) as srv, advertised(srv.settings.server.data_dir, srv.url):
        opened = _cli_env(monkeypatch, tmp_path, srv, TOKEN)
        res = runner.invoke(cli, ["backtest", "--bars", "2000", "--param", "fast=8", "--open"])
        assert res.exit_code == 0, res.output
        assert (
            len(opened) == 1
            and opened[0].startswith(srv.url + "/ui/login?")
            and TOKEN not in opened[0]
        )
        [held] = srv.context.results.recent()
        assert (
            held.title.startswith("ema_cross fast=8")
            and f"%2Fui%2Fbacktests%2F{held.id}" in opened[0]
        )
        res = runner.invoke(
            cli, ["backtest", "--bars", "2000", "--param", "fast=8", "--open", "--json"]
        )
        assert (
            res.exit_code == 0 and json.loads(res.stdout)["params"]["fast"] == 8
        )  # stdout stays JSON
        res = runner.invoke(cli, ["ui-link", "/ui/"])
        assert res.exit_code == 0 and res.stdout.startswith(srv.url + "/ui/login?"), res.output
        assert _open_page(res.stdout.strip()).status_code == 200
        assert runner.invoke(cli, ["ui-link", "/api/v1/backtests"]).exit_code == 2


def test_demo_prints_the_page_and_backtest_open_without_a_server_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ui_server(tmp_path) as srv:
        opened = _cli_env(monkeypatch, tmp_path, srv, None)
        res = runner.invoke(cli, ["backtest", "--bars", "2000", "--open"])
        assert res.exit_code == 0 and opened == [] and "no HTTP server is running" in res.output
        assert runner.invoke(cli, ["ui-link"]).exit_code == 1
        with advertised(srv.settings.server.data_dir, srv.url):
            res = runner.invoke(cli, ["demo", "--bars", "2000", "--out", str(tmp_path / "d.png")])
        assert res.exit_code == 0, res.output
        [held] = srv.context.results.recent()
        assert f"Web page: {srv.url}/ui/backtests/{held.id}" in res.output


def test_run_backtest_carries_the_page_while_the_http_server_runs(tmp_path: Path) -> None:
    with ui_server(tmp_path, TOKEN) as srv:
        assert srv.call_tool("run_backtest", {"bars": 2000}).get("page") is None
        with advertised(srv.settings.server.data_dir, srv.url):
            body = srv.call_tool("run_backtest", {"bars": 2000})
        assert body["page"].startswith(srv.url + "/ui/login?")
        page = _open_page(body["page"])
    assert page.status_code == 200 and body["id"] in page.text


def test_a_stdio_server_links_pages_only_through_a_shared_result_cache(
    tmp_path: Path, redis_url: str
) -> None:
    """Another process's backtest: the page server finds its id in the shared Redis cache."""
    with ui_server(tmp_path, cache_url=redis_url) as srv:
        other = UiServer(
            srv.thread, AppContext(ui_settings(tmp_path, cache_url=redis_url)), srv.settings
        )
        alone = UiServer(srv.thread, AppContext(ui_settings(tmp_path)), srv.settings)
        stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        try:  # the run file of a live process that is not this one
            data_dir = srv.settings.server.data_dir
            data_dir.mkdir(parents=True, exist_ok=True)
            (data_dir / RUN_FILE).write_text(json.dumps({"url": srv.url, "pid": stand_in.pid}))
            assert alone.call_tool("run_backtest", {"bars": 2000}).get("page") is None
            body = other.call_tool("run_backtest", {"bars": 2000, "params": {"fast": 7}})
        finally:
            stand_in.kill()
            stand_in.wait()
        assert body["page"] == f"{srv.url}/ui/backtests/{body['id']}"
        page = srv.get(body["page"].removeprefix(srv.url))
    assert page.status_code == 200 and body["id"] in page.text
