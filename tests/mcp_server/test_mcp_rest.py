"""The REST routes in process (httpx over ASGI), and one backtest through every surface."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp_testkit import make_settings
from typer.testing import CliRunner

from mcp_server.cli import app as cli
from mcp_server.http import build_http_app
from mcp_server.numbers import round_json
from mcp_server.server import build_server
from mcp_server.settings import Settings

BASE = "http://127.0.0.1:8000"
REQUEST: dict[str, Any] = {
    "strategy": "sma_cross",
    "params": {"fast": 8, "slow": 30},
    "symbol": "ETHUSDT",
    "interval": "60",
    "bars": 3000,
    "seed": 7,
    "config": {"sl": 0.01, "tp": 0.03, "fee": 0.0006},
}


@pytest.fixture
async def rest(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_http_app(settings, host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


async def test_backtest_route_answers_like_the_tool(rest: httpx.AsyncClient, settings: Settings) -> None:
    r = await rest.post("/api/v1/backtests", json=REQUEST)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["synthetic"] is True and body["bars"] == 3000 and body["strategy"] == "sma_cross"
    server, _ = build_server(settings)
    async with Client(server) as client:
        tool = await client.call_tool("run_backtest", {**REQUEST, "include_chart": False})
    assert tool.structured_content is not None
    assert tool.structured_content["id"] == body["id"]  # same request, same id
    assert set(tool.structured_content) == set(body)  # same result shape


def test_one_backtest_is_the_same_on_every_surface(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CLI `backtest --json`, MCP `run_backtest` and `POST /api/v1/backtests`: same metrics."""

    async def rest_and_mcp() -> tuple[dict[str, Any], dict[str, Any]]:
        app = build_http_app(settings, host="127.0.0.1", port=8000)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            rest = (await http.post("/api/v1/backtests", json=REQUEST)).json()
        async with Client(build_server(settings)[0]) as client:
            tool = await client.call_tool("run_backtest", {**REQUEST, "include_chart": False})
        assert tool.structured_content is not None
        return rest, tool.structured_content

    rest, tool = anyio.run(rest_and_mcp)
    monkeypatch.setenv("BST_DATA_DIR", str(settings.server.data_dir))
    args = ["backtest", "--json", "--strategy", "sma_cross", "--param", "fast=8", "--param", "slow=30",
            "--symbol", "ETHUSDT", "--interval", "60", "--bars", "3000", "--seed", "7",
            "--sl", "0.01", "--tp", "0.03", "--fee", "0.0006"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    cli_metrics = json.loads(res.stdout)["metrics"]
    assert rest["metrics"] and rest["metrics"] == tool["metrics"]
    # the CLI's --json keeps full precision for programs; clients get meaningful digits
    assert round_json({k: cli_metrics[k] for k in rest["metrics"]}) == rest["metrics"]


async def test_backtest_route_bad_input_says_the_fix(rest: httpx.AsyncClient) -> None:
    r = await rest.post("/api/v1/backtests", json={**REQUEST, "params": {"fast": 1}})
    assert r.status_code == 400 and "from 2 to 500" in r.json()["detail"]
    r = await rest.post("/api/v1/backtests", json={**REQUEST, "source": "store"})
    assert r.status_code == 400 and "fetch_history" in r.json()["detail"]
    r = await rest.post("/api/v1/backtests", json={**REQUEST, "strategy": "nope"})
    assert r.status_code == 422


async def test_working_set_is_500_even_after_an_mtf_call(rest: httpx.AsyncClient) -> None:
    q = {"symbol": "BTCUSDT", "interval": "1"}
    mtf = await rest.get("/api/v1/marketdata/bybit/mtf", params={"symbol": "BTCUSDT", "intervals": "1,5,60"})
    assert mtf.status_code == 200, mtf.text
    body = mtf.json()
    assert len(body["data"]["1"]) == 1000 and body["partial"]["60"]["last"] is True
    assert body["partial"]["1"] == {"first": False, "last": False}
    working = await rest.get("/api/v1/marketdata/bybit/klines/working", params=q)
    assert working.status_code == 200 and len(working.json()) == 500
    # The fake runs on the wall clock: a minute may close between the two calls, and then the
    # working set (topped up) ends one candle later.
    assert body["data"]["1"][-1] in working.json()[-2:]


async def test_daily_and_weekly_timeframes_from_the_fake(rest: httpx.AsyncClient) -> None:
    r = await rest.get(
        "/api/v1/marketdata/bybit/mtf", params={"symbol": "ETHUSDT", "intervals": "D,W", "aligned": 0}
    )
    assert r.status_code == 200, r.text
    days = r.json()["data"]["D"]
    assert days and all(row["time"] % 86_400 == 0 for row in days)


async def test_market_routes_reject_bad_input(rest: httpx.AsyncClient) -> None:
    r = await rest.get("/api/v1/marketdata/bybit/klines/working", params={"symbol": "BTCUSDT", "interval": "7"})
    assert r.status_code == 400 and "interval must be one of" in r.text
    r = await rest.get("/api/v1/marketdata/bybit/mtf", params={"symbol": "NOPEUSDT", "intervals": "1"})
    assert r.status_code == 400 and "NOPEUSDT" in r.json()["detail"]
    r = await rest.get("/api/v1/marketdata/bybit/mtf", params={"symbol": "BTCUSDT", "intervals": ""})
    assert r.status_code == 400


async def test_health_and_metrics(rest: httpx.AsyncClient) -> None:
    health = (await rest.get("/health")).json()
    assert health["status"] == "ok" and "optimize" in health["toolsets"]
    await rest.post("/api/v1/backtests", json=REQUEST)
    for n in range(3):
        await rest.get(f"/probe-{n}")  # unknown paths share one label: no unbounded series
    text = (await rest.get("/metrics")).text
    assert 'bst_http_requests_total{route="/api/v1/backtests",status="200"}' in text
    assert 'route="other",status="404"} 3.0' in text and "probe" not in text


async def test_backtest_route_reads_files_inside_the_files_folder(tmp_path: Path, fake_bybit: str) -> None:
    import engine
    from mcp_server.candles import write_candles_file

    write_candles_file(engine.sample_candles("BTCUSDT", "60", 500), tmp_path / "mine.csv")
    settings = make_settings(tmp_path, bybit_base_url=fake_bybit, files_dir=tmp_path)
    app = build_http_app(settings, host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        ok = await http.post("/api/v1/backtests", json={"source": "file", "path": "mine.csv"})
        assert ok.status_code == 200 and ok.json()["bars"] == 500 and ok.json()["synthetic"] is True
        out = await http.post("/api/v1/backtests", json={"source": "file", "path": "../etc/passwd"})
        assert out.status_code == 400 and "outside this server's files folder" in out.json()["detail"]
