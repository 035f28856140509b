"""Failures that name the real fix, through every surface: no route to the exchange is
"unreachable (no network?)" within seconds with the offline fixes; an interrupted
fetch_history says what it stored and what is missing; argument errors are one line per
field saying what to send instead."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp_testkit import make_settings
from typer.testing import CliRunner

import market as M
from mcp_server.cli import app as cli
from mcp_server.context import AppContext
from mcp_server.http import build_http_app
from mcp_server.server import build_server
from ohlcv import format_iso, now_ms

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "market"))
from market_testkit import CutTransport, refused_url

BASE = "http://127.0.0.1:8000"
UNREACHABLE = "the exchange is unreachable (no network?)"
FIXES = ("source='sample'", "source='store'", "BST_BYBIT_BASE_URL", "bybit-tester fake-bybit")
OFFLINE_URLS = pytest.mark.parametrize(
    "url", [refused_url(), "http://bybit.invalid"], ids=["refused", "dns"]
)
runner = CliRunner()


def names_the_offline_fix(text: str) -> bool:
    return UNREACHABLE in text and all(f in text for f in FIXES) and "retry later" not in text


def text_of(result: Any) -> str:
    return str(result.content[0].text)


@OFFLINE_URLS
async def test_offline_tools_fail_fast_and_name_the_fix(tmp_path: Path, url: str) -> None:
    server, _ = build_server(make_settings(tmp_path, bybit_base_url=url))
    async with Client(server) as client:
        for tool, args in [
            ("get_klines", {"symbol": "BTCUSDT", "interval": "60", "limit": 24}),
            ("fetch_history", {"symbol": "BTCUSDT", "interval": "60", "start": "2024-01-01"}),
            ("get_mtf", {"symbol": "BTCUSDT", "intervals": ["1", "5"], "load_limit": 100}),
        ]:
            started = time.monotonic()
            r = await client.call_tool(tool, args)
            elapsed = time.monotonic() - started
            assert r.is_error and names_the_offline_fix(text_of(r)), (tool, text_of(r))
            assert elapsed < 5.0, (tool, elapsed)  # generous: ~0.2 s here, ~8 s before
        sample = await client.call_tool("run_backtest", {"bars": 1500})  # the fix it names works
        assert not sample.is_error, text_of(sample)


@OFFLINE_URLS
async def test_offline_rest_is_503_with_the_fix(tmp_path: Path, url: str) -> None:
    app = build_http_app(make_settings(tmp_path, bybit_base_url=url), host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        r = await http.get("/api/v1/marketdata/bybit/klines/working", params={"symbol": "BTCUSDT"})
    assert r.status_code == 503 and names_the_offline_fix(r.json()["detail"]), r.text


def test_offline_cli_fetch_exits_1_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("BST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BST_BYBIT_BASE_URL", refused_url())
    started = time.monotonic()
    res = runner.invoke(cli, ["data", "fetch", "BTCUSDT", "--days", "1"])
    assert time.monotonic() - started < 5.0
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.exit_code == 1 and len(errors) == 1, res.stderr
    assert names_the_offline_fix(errors[0]), errors[0]


async def test_a_cut_fetch_history_reports_stored_and_missing(
    tmp_path: Path, fake_bybit: str
) -> None:
    settings = make_settings(tmp_path, bybit_base_url=fake_bybit)
    start = format_iso(now_ms() - 2 * 86_400_000)
    args = {"symbol": "BTCUSDT", "interval": "1", "start": start}
    cut = CutTransport(allow=4)  # instruments, time, then two pages of 1000
    http = httpx.AsyncClient(transport=cut)
    config = M.ClientConfig(base_url=fake_bybit, concurrency=1)
    market = M.MarketData(M.CandleStore(tmp_path / "store"), M.BybitClient(http, config))
    server, _ = build_server(settings, context=AppContext(settings, market=market))
    try:
        async with Client(server) as client:
            r = await client.call_tool("fetch_history", args)
    finally:
        await http.aclose()
    s = r.structured_content
    assert not r.is_error and s is not None, text_of(r)
    assert s["complete"] is False and s["stored"] == 2000 and s["missing"] > 800
    assert s["note"].startswith("incomplete:") and f"{s['missing']:,} missing" in s["note"]
    assert UNREACHABLE in s["note"] and "calling again resumes" in s["note"]
    assert s["first"] is not None and s["last"] is not None
    async with Client(build_server(settings)[0]) as client:  # the network is back
        again = (await client.call_tool("fetch_history", args)).structured_content
    assert again is not None and again["complete"] is True and again["missing"] == 0
    assert again["stored"] == s["stored"] + s["missing"] and again["note"].startswith("complete")


async def test_a_stored_range_is_served_offline(tmp_path: Path, fake_bybit: str) -> None:
    start = now_ms() - 2 * 86_400_000
    async with Client(build_server(make_settings(tmp_path, bybit_base_url=fake_bybit))[0]) as c:
        h = await c.call_tool("fetch_history", {"interval": "60", "start": format_iso(start)})
        assert not h.is_error and h.structured_content["complete"], text_of(h)  # type: ignore[index]
    window = {"interval": "60", "start": format_iso(start + 3_600_000), "limit": 10}
    offline = make_settings(tmp_path, bybit_base_url=refused_url())
    async with Client(build_server(offline)[0]) as client:
        r = await client.call_tool(
            "get_klines", {**window, "end": format_iso(start + 12 * 3_600_000)}
        )
    assert not r.is_error and r.structured_content["count"] == 10, text_of(r)  # type: ignore[index]


async def test_argument_errors_are_one_line_per_field(tmp_path: Path) -> None:
    server, _ = build_server(make_settings(tmp_path))
    async with Client(server) as client:
        r = await client.call_tool("run_backtest", {"bars": 1, "config": {"fee": 0.5}})
    lines = text_of(r).splitlines()
    assert r.is_error and lines[0].endswith("invalid arguments"), lines
    assert sorted(lines[1:]) == [
        "bars: must be >= 2",
        "config.fee: must be < 0.1 (send a fraction: 0.00055 = 0.055 %)",
    ]
    assert "pydantic.dev" not in text_of(r) and "type=" not in text_of(r)


async def test_rest_argument_errors_are_422_with_the_lines(tmp_path: Path) -> None:
    app = build_http_app(make_settings(tmp_path), host="127.0.0.1", port=8000)
    body = {"strategy": "nope", "bars": 1, "config": {"sl": 2}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        r = await http.post("/api/v1/backtests", json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert "bars: must be >= 2" in errors
    assert "config.sl: must be < 1.0 (a fraction of the price: 0.01 = 1 %)" in errors
    assert any(e.startswith("strategy: must be one of 'ema_cross'") for e in errors)
    assert "pydantic.dev" not in r.text


def test_cli_argument_errors_name_the_field_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(cli, ["backtest", "--fee", "0.5", "--bars", "500"])
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.exit_code == 2 and len(errors) == 1, res.stderr
    assert "fee: must be < 0.1 (send a fraction: 0.00055 = 0.055 %)" in errors[0]
    assert "pydantic.dev" not in res.stderr
