"""Every tool through the SDK's in-memory Client, with its error paths."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp_testkit import make_settings

from mcp_server.server import build_server
from mcp_server.tools import TOOLSET_TOOLS

SMALL = {"bars": 1500}
ALL_TOOLS = {t for tools in TOOLSET_TOOLS.values() for t in tools}


def err_text(result: Any) -> str:
    assert result.is_error, result
    return str(result.content[0].text)


async def test_tool_list_has_schemas_and_annotations(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == ALL_TOOLS
        for t in tools:
            if (t.meta or {}).get("ui", {}).get("visibility") == ["app"]:
                continue  # only views call it: the host hides it from the model (tests/mcp_server/ui)
            assert t.output_schema is not None, t.name
            assert t.annotations is not None and t.annotations.read_only_hint is not None, t.name
            assert t.description and len(t.description) > 40, t.name
        by_name = {t.name: t for t in tools}
        props = by_name["run_backtest"].input_schema["properties"]
        assert props["bars"]["maximum"] == 200_000
        assert "ema_cross" in str(props["strategy"])
        assert by_name["fetch_history"].annotations.read_only_hint is False  # type: ignore[union-attr]


async def test_toolsets_env_selects_tools(tmp_path: Any) -> None:
    server, _ = build_server(make_settings(tmp_path, toolsets="backtest,agents"))
    async with Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == set(TOOLSET_TOOLS["backtest"]) | set(TOOLSET_TOOLS["agents"])


async def test_list_strategies(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool("list_strategies", {})
        names = [s["name"] for s in r.structured_content["strategies"]]  # type: ignore[index]
        assert "ema_cross" in names and "buy_and_hold" in names


async def test_run_backtest_metrics_resources_chart_and_cache(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool("run_backtest", {"strategy": "sma_cross", **SMALL})
        assert not r.is_error
        s = r.structured_content
        assert s is not None and s["synthetic"] is True and s["cached"] is False
        assert {"sharpe", "max_drawdown", "n_trades"} <= set(s["metrics"])
        assert [b.type for b in r.content] == ["text"]  # charts are opt-in
        assert len(r.content[0].text) < 4 * 400  # type: ignore[union-attr]  # ~400 tokens
        again = await client.call_tool("run_backtest", {"strategy": "sma_cross", **SMALL})
        assert again.structured_content["cached"] is True  # type: ignore[index]
        assert again.structured_content["id"] == s["id"]  # type: ignore[index]
        for kind in ("trades", "equity", "report"):
            res = await client.read_resource(s["resources"][kind])
            assert res.contents[0].text.startswith("{")  # type: ignore[union-attr]
        chart = await client.read_resource(f"backtest://{s['id']}/chart")
        assert chart.contents[0].mime_type == "image/png"
        assert base64.b64decode(chart.contents[0].blob)[:4] == b"\x89PNG"  # type: ignore[union-attr]
        with_chart = await client.call_tool(
            "run_backtest", {"strategy": "sma_cross", **SMALL, "include_chart": True}
        )
        assert [b.type for b in with_chart.content] == ["text", "image"]


async def test_run_backtest_with_config_and_progress(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        seen: list[float] = []

        async def on_progress(p: float, total: float | None, message: str | None) -> None:
            seen.append(p)

        r = await client.call_tool(
            "run_backtest",
            {
                "strategy": "rsi",
                "params": {"period": 10},
                "config": {"sl": 0.01, "fee": 0.001},
                "include_chart": False,
                **SMALL,
            },
            progress_callback=on_progress,
        )
        assert not r.is_error and not any(b.type == "image" for b in r.content)
        assert seen and seen[-1] == 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"strategy": "nope"}, "ema_cross"),
        ({"params": {"fast": 1}}, "from 2 to 500"),
        ({"params": {"fast": 60, "slow": 50}}, "fast"),
        ({"bars": 1}, "bars: must be >= 2"),
        ({"bars": 5}, "warm up"),
        ({"interval": "7"}, "interval: must be one of"),
        ({"config": {"size": 3}}, "leverage"),
        ({"symbol": "btc usdt"}, "symbol: must match"),
        ({"bars": 100, "params": {"slow": 1500}}, "bars"),
    ],
)
async def test_run_backtest_errors_say_the_fix(
    server: MCPServer[Any], args: dict[str, Any], needle: str
) -> None:
    async with Client(server) as client:
        r = await client.call_tool("run_backtest", args)
        assert needle in err_text(r)


async def test_compare_strategies_ranks_and_comments(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool(
            "compare_strategies",
            {
                "candidates": [
                    {"strategy": "ema_cross"},
                    {"strategy": "rsi", "label": "rsi default"},
                    {"strategy": "buy_and_hold"},
                ],
                "rank_by": "max_drawdown",
                "commentary": True,
                **SMALL,
            },
        )
        s = r.structured_content
        assert s is not None and [row["rank"] for row in s["ranking"]] == [1, 2, 3]
        dds = [row["metrics"]["max_drawdown"] for row in s["ranking"]]
        assert dds == sorted(dds)
        assert s["commentary"] and s["commentary_agent"] == "local"
        one = await client.call_tool("compare_strategies", {"candidates": [{"strategy": "rsi"}]})
        assert "at least 2" in err_text(one)


async def test_analysis_tools(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        bt = await client.call_tool("run_backtest", {"include_chart": False, **SMALL})
        bid = bt.structured_content["id"]  # type: ignore[index]
        for name, args in [
            ("analyze_backtest_results", {"backtest_id": bid}),
            ("analyze_backtest_results", {"metrics": {"sharpe": 1.2, "n_trades": 5}}),
            ("risk_management_advice", {"backtest_id": bid, "account_equity": 10000}),
            ("technical_indicator_research", {"indicator": "RSI"}),
            ("explain_metric", {"metric": "sharpe", "value": 1.5}),
            ("market_regime_detection", {"bars": 600}),
            ("code_review_strategy", {"code": "df['sig'] = df.close.shift(-1) > df.close\n"}),
        ]:
            r = await client.call_tool(name, args)
            assert not r.is_error, (name, r.content)
            assert r.structured_content["agent"] == "local", name  # type: ignore[index]
        review = await client.call_tool("code_review_strategy", {"code": "x = close.shift(-1)\n"})
        assert "shift" in str(review.structured_content)
        regime = await client.call_tool("market_regime_detection", {"bars": 600})
        assert {"adx", "efficiency_ratio"} <= set(regime.structured_content["features"])  # type: ignore[index]
        assert "backtest_id" in err_text(await client.call_tool("analyze_backtest_results", {}))
        assert "0000000000000000" in err_text(
            await client.call_tool("analyze_backtest_results", {"backtest_id": "0000000000000000"})
        )
        assert "metric: must be one of" in err_text(
            await client.call_tool("explain_metric", {"metric": "nope"})
        )


async def test_generate_test_scenarios_runs_them(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool("generate_test_scenarios", {"bars": 1500})
        assert not r.is_error, r.content
        runs = r.structured_content["runs"]  # type: ignore[index]
        ran = [x for x in runs if x["status"] == "ran"]
        assert len(ran) >= 5
        assert any(x["scenario"] == "crash_gap" and x["status"] == "ran" for x in runs)
        assert any(x["status"] == "not_run" for x in runs)  # e.g. the dated bear-market window


async def test_agents_tools(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool("ask_agent", {"question": "What is a Sharpe ratio?"})
        assert not r.is_error and r.structured_content["agent"] == "local"  # type: ignore[index]
        steps: list[str] = []

        async def on_progress(p: float, total: float | None, message: str | None) -> None:
            steps.append(message or "")

        r = await client.call_tool(
            "run_pipeline",
            {"pipeline": "review_strategy", "code": "x = close.shift(-1)"},
            progress_callback=on_progress,
        )
        assert not r.is_error and set(r.structured_content["steps"]) == {"review", "scenarios"}  # type: ignore[index]
        assert len(steps) >= 4
        assert "needs `question`" in err_text(
            await client.call_tool("run_pipeline", {"pipeline": "research_then_reason"})
        )
        st = await client.call_tool("router_status", {})
        assert st.structured_content["status"]["mode"] == "live"  # type: ignore[index]


async def test_prompts_and_catalog(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert {"research_strategy", "robustness_review"} <= prompts
        got = await client.get_prompt("robustness_review", {"backtest_id": "0123456789abcdef"})
        assert "0123456789abcdef" in str(got.messages[0].content)
        cat = await client.read_resource("strategies://catalog")
        assert "ema_cross" in cat.contents[0].text  # type: ignore[union-attr]
        templates = {
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        }
        assert {"backtest://{bid}/trades{?cursor}", "backtest://{bid}/chart",
                "optimization://{oid}/heatmap"} <= templates  # fmt: skip


async def test_cancellation_keeps_session_usable(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        with anyio.move_on_after(0.05):
            await client.call_tool(
                "compare_strategies",
                {
                    "candidates": [
                        {"strategy": "ema_cross", "params": {"fast": f}} for f in range(5, 17)
                    ],
                    "bars": 150_000,
                },
            )
        r = await client.call_tool("list_strategies", {})
        assert not r.is_error


async def test_market_tools_on_fake_bybit(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        h = await client.call_tool(
            "fetch_history", {"symbol": "BTCUSDT", "interval": "60", "start": _days_ago(2)}
        )
        assert not h.is_error, h.content
        assert h.structured_content["candles_added"] > 0  # type: ignore[index]
        ds = await client.call_tool("list_datasets", {})
        btc = [d for d in ds.structured_content["datasets"] if d["symbol"] == "BTCUSDT"]  # type: ignore[index]
        assert btc and all(d["synthetic"] is True for d in btc)  # the fake says its data is synthetic
        k = await client.call_tool(
            "get_klines", {"symbol": "BTCUSDT", "interval": "60", "limit": 24}
        )
        s = k.structured_content
        assert s is not None and 20 <= s["count"] <= 24 and s["candles"] is not None
        assert s["synthetic"] is True
        res = await client.read_resource(s["resource"])
        assert '"candles"' in res.contents[0].text  # type: ignore[union-attr]
        m = await client.call_tool(
            "get_mtf", {"symbol": "BTCUSDT", "intervals": ["1", "5"], "load_limit": 100}
        )
        assert not m.is_error, m.content
        assert [t["interval"] for t in m.structured_content["timeframes"]] == ["1", "5"]  # type: ignore[index]
        bt = await client.call_tool(
            "run_backtest",
            {
                "source": "store",
                "interval": "60",
                "bars": 100,
                "strategy": "sma_cross",
                "params": {"fast": 3, "slow": 8},
            },
        )
        assert not bt.is_error, bt.content
        # fetched from the fake Bybit, so the result must not pass for market data
        assert bt.structured_content["synthetic"] is True  # type: ignore[index]
        bad = await client.call_tool("get_klines", {"symbol": "NOPEUSDT", "interval": "60"})
        assert bad.is_error and err_text(bad) != "Error executing tool get_klines"


def _days_ago(days: float) -> str:
    import datetime as dt

    t = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M")
