"""The MCP Apps wiring, through the SDK client: which tools carry a view, the ui:// resources,
the view-data resources and the app-only tool a heatmap click calls."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

from mcp import Client
from mcp.server.apps import APP_MIME_TYPE
from mcp.server.mcpserver import MCPServer

from mcp_server.ui import VIEW_URIS, view_html

VIEWS = {
    "run_backtest": "report",
    "optimize_grid": "heatmap",
    "optimize_random": "heatmap",
    "optimize_bayesian": "heatmap",
    "walk_forward": "walkforward",
}
GRID = {"strategy": "ema_cross", "params": {"fast": [5, 20, 5], "slow": [30, 60, 10]}, "bars": 3000}


async def test_tools_name_their_view_and_the_cell_tool_is_for_views_only(
    server: MCPServer[Any],
) -> None:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name, kind in VIEWS.items():
        assert tools[name].meta == {"ui": {"resourceUri": VIEW_URIS[kind]}}, name
    cell = tools["run_backtest_cell"].meta
    assert cell == {"ui": {"resourceUri": VIEW_URIS["heatmap"], "visibility": ["app"]}}
    plain = [n for n, t in tools.items() if t.meta and "ui" in t.meta]
    assert sorted(plain) == sorted([*VIEWS, "run_backtest_cell"])


async def test_the_view_templates_are_mcp_app_resources(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        for kind, uri in VIEW_URIS.items():
            assert uri.startswith("ui://bybit-strategy-tester/")
            assert listed[uri].mime_type == APP_MIME_TYPE
            content = (await client.read_resource(uri)).contents[0]
            assert content.mime_type == APP_MIME_TYPE
            assert content.meta == {"ui": {"prefersBorder": True}}
            assert content.text == view_html(kind)  # type: ignore[union-attr]


async def _read(client: Client, uri: str) -> dict[str, Any]:
    return json.loads((await client.read_resource(uri)).contents[0].text)  # type: ignore[union-attr]


async def test_a_backtest_result_stays_short_and_its_view_data_is_a_resource(
    server: MCPServer[Any],
) -> None:
    async with Client(server) as client:
        r = await client.call_tool("run_backtest", {"strategy": "ema_cross", "bars": 20_000})
        body = r.structured_content or {}
        data = await _read(client, f"backtest://{body['id']}/view")
    text = r.content[0].text  # type: ignore[union-attr]
    assert len(text) < 2000 and len(json.dumps(body)) < 3000  # no candles in the tool result
    assert data["kind"] == "report" and data["id"] == body["id"] and data["bars"] == 20_000
    times = data["candles"]["time"]
    assert all(b > a for a, b in pairwise(times))


async def test_optimisation_views_and_the_cell_tool(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        o = await client.call_tool("optimize_grid", GRID)
        oid = (o.structured_content or {})["id"]
        heat = await _read(client, f"optimization://{oid}/view")
        swapped = await _read(
            client, f"optimization://{oid}/view?x={heat['axes'][1]}&y={heat['axes'][0]}"
        )
        cell = heat["cells"][-1]["params"]
        run = await client.call_tool("run_backtest_cell", {"id": oid, "params": cell})
        w = await client.call_tool("walk_forward", {**GRID, "n_splits": 3})
        wid = (w.structured_content or {})["id"]
        walk = await _read(client, f"optimization://{wid}/view")
        wrong = await client.call_tool("run_backtest_cell", {"id": wid, "params": cell})
        gone = await client.call_tool("run_backtest_cell", {"id": "opt-999", "params": cell})
    assert heat["kind"] == "heatmap" and swapped["axes"] == heat["axes"][::-1]
    assert not run.is_error
    report = run.structured_content or {}
    assert report["kind"] == "report" and report["params"] == cell
    assert len(run.content[0].text) < 300  # type: ignore[union-attr]
    assert walk["kind"] == "walkforward" and len(walk["splits"]) == 3
    assert wrong.is_error and "walk-forward result" in wrong.content[0].text  # type: ignore[union-attr]
    assert gone.is_error and "opt-999" in gone.content[0].text  # type: ignore[union-attr]
