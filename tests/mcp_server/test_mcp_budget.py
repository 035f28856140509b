"""What the calling model receives (issue #14): the context budget, honest robustness
statistics and the guards against likely mistakes, through the SDK client."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mcp import Client
from mcp.server.mcpserver import MCPServer


def _budget() -> ModuleType:
    # bench/ is not a package, and bench/mcp.py would shadow the SDK on sys.path
    path = Path(__file__).resolve().parents[2] / "bench" / "_budget.py"
    spec = importlib.util.spec_from_file_location("bench_budget", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


budget = _budget()
SMALL = {"bars": 3000}


async def test_tools_list_and_canonical_session_fit_the_budget(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        assert await budget.tools_list_bytes(client) <= 40_000
        rows = await budget.canonical_session(client)
    assert [r.call for r in rows] == [
        "list_strategies", "run_backtest", "optimize_grid", "walk_forward",
        "analyze_backtest_results", "generate_test_scenarios",
    ]  # fmt: skip
    assert not any(r.error for r in rows), rows
    assert sum(r.text_tokens for r in rows) <= 6000, rows
    assert sum(r.image_bytes for r in rows) == 0  # charts only when asked for


async def test_a_shared_argument_is_described_once(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    described = [t.name for t in tools if "description" in t.input_schema["properties"].get("source", {})]
    having = [t.name for t in tools if "source" in t.input_schema["properties"]]
    assert len(having) > 5 and described == having[:1], (described, having)
    assert all("description" in t.input_schema["properties"]["mode"]  # different meanings stay
               for t in tools if "mode" in t.input_schema["properties"])  # fmt: skip


async def test_the_strategy_list_is_spelled_out_once_and_still_enforced(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        bad = await client.call_tool("optimize_grid", {"strategy": "nope", "params": {"fast": "5:10:5"}})
    assert "ema_cross" in tools["run_backtest"].input_schema["properties"]["strategy"]["enum"]
    pointer = tools["optimize_grid"].input_schema["properties"]["strategy"]
    assert "enum" not in pointer and pointer["description"] == "As in run_backtest"
    assert bad.is_error and "ema_cross" in bad.content[0].text  # type: ignore[union-attr]
    read_only = tools["list_runs"].annotations
    assert read_only is not None and read_only.read_only_hint and read_only.idempotent_hint is None


async def test_results_are_compact_and_rounded(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool("run_backtest", {**SMALL, "strategy": "sma_cross"})
        text = r.content[0].text  # type: ignore[union-attr]
        assert json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False) == text
        assert "null" not in text
        for value in json.loads(text)["metrics"].values():
            assert len(repr(value).lstrip("-").replace(".", "").lstrip("0")) <= 7, value
        trades = json.loads((await client.read_resource(f"backtest://{r.structured_content['id']}/trades"))
                            .contents[0].text)  # type: ignore[index, union-attr]  # fmt: skip
        for row in trades["trades"]:
            for key in ("entry_price", "exit_price"):
                assert len(repr(row[key]).split(".")[-1]) <= 10
            assert row["pnl"] == round(row["pnl"], 2)


async def test_trades_and_tables_are_paginated(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool(
            "run_backtest", {"strategy": "ema_cross", "params": {"fast": 3, "slow": 8}, "bars": 20_000}
        )
        bid = r.structured_content["id"]  # type: ignore[index]
        uri: str | None = f"backtest://{bid}/trades"
        seen, pages = 0, 0
        while uri is not None:
            page = json.loads((await client.read_resource(uri)).contents[0].text)  # type: ignore[union-attr]
            assert page["from"] == seen and 0 < len(page["trades"]) <= 500
            seen += len(page["trades"])
            pages += 1
            uri = page["next"]
        assert pages > 1 and seen == page["n_trades"]


async def test_bad_cursor_is_a_clear_error(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool("run_backtest", {**SMALL})
        bid = r.structured_content["id"]  # type: ignore[index]
        try:
            await client.read_resource(f"backtest://{bid}/trades?cursor=abc")
        except Exception as exc:
            assert "cursor" in str(exc) and "next" in str(exc)
        else:
            raise AssertionError("a malformed cursor was accepted")


async def test_guards_warn_and_the_run_still_happens(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        fee = await client.call_tool("run_backtest", {**SMALL, "config": {"fee": 0.055}})
        assert not fee.is_error
        notes = " ".join(fee.structured_content["notes"])  # type: ignore[index]
        assert "fee=0.055 is 5.5 % per fill" in notes and "fee=0.00055" in notes
        assert "Equity fell below 1%" in notes
        qty = await client.call_tool(
            "run_backtest",
            {"bars": 20_000, "config": {"size_mode": "fixed_qty", "size": 1}},
        )
        notes = " ".join(qty.structured_content["notes"])  # type: ignore[index]
        assert "more than equity x leverage" in notes and "Equity was exhausted by" in notes
        m = qty.structured_content["metrics"]  # type: ignore[index]
        assert m["n_trades"] > 0
        ok = await client.call_tool("run_backtest", {**SMALL})
        assert not any("fee=" in n for n in ok.structured_content["notes"])  # type: ignore[index]


async def test_scenarios_that_cannot_change_the_run_are_not_results(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool("generate_test_scenarios", {"bars": 8000, "agent": "local"})
        assert not r.is_error
        runs = r.structured_content["runs"]  # type: ignore[index]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_name.setdefault(run["scenario"], []).append(run)
    # funding off, liquidation off, no SL/TP: these inputs cannot move the result
    for name in ("param_funding_hours_neighbourhood", "param_maintenance_margin_neighbourhood",
                 "pessimistic_intrabar"):  # fmt: skip
        assert [x["status"] for x in by_name[name]] == ["not_applicable"], by_name[name]
        assert by_name[name][0]["reason"] and by_name[name][0].get("metrics") is None
    baseline = r.structured_content["baseline"]  # type: ignore[index]
    for run in runs:  # nothing reported as a result is the baseline again
        if run["status"] == "ran" and run["scenario"] != "walk_forward":
            assert any(run["metrics"][k] != baseline[k] for k in run["metrics"]), run
    (wf,) = by_name["walk_forward"]
    assert wf["status"] == "ran" and "re-optimised" in wf["reason"] and "out-of-sample" in wf["reason"]
    fast = [x["variant"] for x in by_name["param_fast_neighbourhood"]]
    assert fast == ["fast=16", "fast=24"]  # the baseline's own fast=20 is not rerun


async def test_null_statistics_and_losing_grids_say_why(server: MCPServer[Any]) -> None:
    search = {"params": {"fast": "5:50:5", "slow": "20:200:10"}, "bars": 8000}
    async with Client(server) as client:
        grid = await client.call_tool("optimize_grid", search)
        wf = await client.call_tool("walk_forward", search)
    g = grid.structured_content
    assert g is not None
    assert g["best"]["params"] not in [row["params"] for row in g["top"]]  # said once
    if all(row["total_return"] <= 0 for row in [g["best"], *g["top"]]):
        notes = g["notes"] + (g["overfit"] or {}).get("notes", [])
        assert any("every combination lost money" in n for n in notes), notes
    w = wf.structured_content
    assert w is not None
    for key, value in w["efficiency"].items():
        if value is None:
            assert any(n.startswith(f"{key} is null:") for n in w["notes"]), w["notes"]


async def test_analyst_names_when_the_capital_ran_out(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool(
            "run_backtest", {"bars": 20_000, "config": {"size_mode": "fixed_qty", "size": 1}}
        )
        bid = r.structured_content["id"]  # type: ignore[index]
        a = await client.call_tool("analyze_backtest_results", {"backtest_id": bid, "agent": "local"})
    flags = {f["code"]: f for f in a.structured_content["output"]["red_flags"]}  # type: ignore[index]
    assert "equity_exhausted" in flags and "skipped_orders" not in flags
    assert "Equity ran out at 20" in flags["equity_exhausted"]["message"]


async def test_offline_ask_answers_the_numbers_in_the_question(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        r = await client.call_tool(
            "ask_agent", {"question": "Is a Sharpe of 1.2 on 40 trades meaningful?", "agent": "local"}
        )
        win = await client.call_tool(
            "ask_agent", {"question": "My win rate is 55% over 200 trades. Is that luck?", "agent": "local"}
        )
    text = r.content[0].text  # type: ignore[union-attr]
    assert not r.is_error and "1.2" in text and "40" in text and "7.59" in text
    assert "55" in win.content[0].text and "200" in win.content[0].text  # type: ignore[union-attr]
