"""Synthetic data is labelled as such on every MCP and REST surface, and candles read from
the store are never called "sample" (through the SDK client and httpx over ASGI)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

import engine
from engine.plot import chart_title
from mcp_server.http import build_http_app
from mcp_server.settings import Settings

FROM_THE_FAKE = "synthetic candles from the offline fake Bybit"
STORE_NOTE = "Synthetic candles from the offline fake Bybit, read from the store: not evidence about the real market."


def _two_days_ago() -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")


async def test_store_backtest_on_fake_candles_says_synthetic_not_sample(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        h = await client.call_tool("fetch_history", {"symbol": "BTCUSDT", "interval": "60", "start": _two_days_ago()})
        assert not h.is_error, h.content
        bt = await client.call_tool(
            "run_backtest",
            {"source": "store", "interval": "60", "bars": 40, "strategy": "sma_cross",
             "params": {"fast": 3, "slow": 8}, "include_chart": False},
        )  # fmt: skip
        s = bt.structured_content
        assert s is not None and not bt.is_error, bt.content
        assert s["synthetic"] is True and s["source"] == "store"
        assert STORE_NOTE in s["notes"]
        assert not any("sample" in note.lower() for note in s["notes"]), s["notes"]
        sample = await client.call_tool("run_backtest", {"bars": 1500, "include_chart": False})
        notes = sample.structured_content["notes"]  # type: ignore[index]
        assert "Synthetic sample series (source='sample'): not evidence about the real market." in notes


async def test_market_tools_and_klines_resource_say_where_candles_came_from(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        k = await client.call_tool("get_klines", {"symbol": "ETHUSDT", "interval": "60", "limit": 24})
        s = k.structured_content
        assert s is not None and s["synthetic"] is True and s["provenance"] == FROM_THE_FAKE
        res = await client.read_resource(s["resource"])
        body = json.loads(res.contents[0].text)  # type: ignore[union-attr]
        assert body["synthetic"] is True and body["provenance"] == FROM_THE_FAKE
        m = await client.call_tool("get_mtf", {"symbol": "ETHUSDT", "intervals": ["1", "5"], "load_limit": 100})
        assert m.structured_content is not None and not m.is_error, m.content
        assert m.structured_content["synthetic"] is True
        assert m.structured_content["provenance"] == FROM_THE_FAKE


async def test_rest_market_routes_label_synthetic_candles(settings: Settings) -> None:
    app = build_http_app(settings, host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http:
        working = await http.get("/api/v1/marketdata/bybit/klines/working", params={"symbol": "BTCUSDT"})
        assert working.status_code == 200 and isinstance(working.json(), list)  # the seeds' bare list
        assert working.headers["x-synthetic-data"] == "true"
        assert working.headers["x-data-provenance"] == FROM_THE_FAKE
        mtf = await http.get("/api/v1/marketdata/bybit/mtf", params={"symbol": "BTCUSDT", "intervals": "1,5"})
        body = mtf.json()
        assert mtf.status_code == 200 and body["synthetic"] is True and body["provenance"] == FROM_THE_FAKE
        assert set(body["data"]) == {"1", "5"}


async def test_chart_resource_draws_buy_and_hold_and_the_store_tag(
    server: MCPServer[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart is drawn on first read: with the candles the run used (for the buy-and-hold
    line) and the source it loaded them from (for the title's tag)."""
    drawn: list[dict[str, Any]] = []
    real = engine.render_equity_png

    def spy(result: engine.BacktestResult, **kw: Any) -> bytes:
        drawn.append({"title": chart_title(result, kw.get("source")), "candles": kw.get("candles")})
        return real(result, **kw)

    monkeypatch.setattr(engine, "render_equity_png", spy)
    async with Client(server) as client:
        await client.call_tool("fetch_history", {"symbol": "BTCUSDT", "interval": "60", "start": _two_days_ago()})
        bt = await client.call_tool(
            "run_backtest",
            {"source": "store", "interval": "60", "bars": 40, "strategy": "sma_cross", "params": {"fast": 3, "slow": 8}},
        )
        bid, bars = bt.structured_content["id"], bt.structured_content["bars"]  # type: ignore[index]
        png = await client.read_resource(f"backtest://{bid}/chart")
        assert png.contents and drawn, png
    (call,) = drawn
    assert call["title"] == "BTCUSDT 1h sma_cross(fast=3, slow=8) [SYNTHETIC: offline fake Bybit, via the store]"
    assert call["candles"] is not None and len(call["candles"]) == bars
