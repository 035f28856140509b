"""The optimisation MCP tools through the SDK's in-memory client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import RouterSettings, ServerSettings, Settings

SMALL = {"bars": 3000, "params": {"fast": "5:20:5", "slow": [30, 40, 60]}}


def _server(tmp: Path, **server: object) -> Any:
    base: dict[str, object] = {"data_dir": tmp / "store", "cache_url": "memory://", **server}
    settings = Settings(
        ServerSettings(_env_file=None, **base),  # type: ignore[call-arg]
        RouterSettings(_env_file=None, router_mode="live"),  # type: ignore[call-arg]
    )
    return build_server(settings)[0]


async def test_tools_are_listed_with_schemas(tmp_path: Path) -> None:
    async with Client(_server(tmp_path, toolsets="optimize")) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"optimize_grid", "optimize_random", "optimize_bayesian", "walk_forward",
                          "run_backtest_cell"}  # fmt: skip
    del tools["run_backtest_cell"]  # the heatmap view's own tool (tests/mcp_server/ui)
    for t in tools.values():
        assert t.output_schema is not None and t.annotations is not None
        assert t.annotations.read_only_hint is True


async def test_grid_result_table_resource_heatmap_and_progress(tmp_path: Path) -> None:
    seen: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append(done)

    async with Client(_server(tmp_path, toolsets="optimize")) as client:
        r = await client.call_tool("optimize_grid", SMALL, progress_callback=on_progress)
        assert not r.is_error, r.content
        s = r.structured_content
        assert s is not None and s["evaluated"] == 12 and s["synthetic"] is True
        assert s["best"]["params"]["fast"] in (5, 10, 15, 20) and len(s["top"]) == 9  # ranks 2..10
        assert {"deflated_sharpe", "pbo", "sharpe_ci"} <= set(s["overfit"])
        assert [c.type for c in r.content] == ["text"]  # the heatmap is opt-in
        heat = await client.read_resource(s["heatmap"])
        assert heat.contents[0].mime_type == "image/png"
        shown = await client.call_tool("optimize_grid", {**SMALL, "include_heatmap": True})
        assert any(c.type == "image" and c.mime_type == "image/png" for c in shown.content)
        table = await client.read_resource(s["table"])
        rows = json.loads(table.contents[0].text)["rows"]  # type: ignore[union-attr]
        assert len(rows) == 12 and rows[0]["rank"] == 1
    assert seen and max(seen) >= 1


async def test_random_bayes_walk_forward_and_errors(tmp_path: Path) -> None:
    async with Client(_server(tmp_path, toolsets="optimize")) as client:
        r = await client.call_tool("optimize_random", {**SMALL, "n_samples": 6})
        assert not r.is_error and r.structured_content["evaluated"] == 6  # type: ignore[index]
        a = await client.call_tool("optimize_bayesian", {**SMALL, "n_trials": 6, "search_seed": 3})
        b = await client.call_tool("optimize_bayesian", {**SMALL, "n_trials": 6, "search_seed": 3})
        assert a.structured_content["top"] == b.structured_content["top"]  # type: ignore[index]
        w = await client.call_tool("walk_forward", {**SMALL, "n_splits": 3})
        assert not w.is_error and len(w.structured_content["splits"]) == 3  # type: ignore[index]
        bad = await client.call_tool("optimize_grid", {**SMALL, "params": {"fast": "20:10"}})
        assert bad.is_error and "is empty" in bad.content[0].text  # type: ignore[union-attr]
        short = await client.call_tool("walk_forward", {**SMALL, "n_splits": 100, "test_bars": 50})
        assert short.is_error and "cannot hold" in short.content[0].text  # type: ignore[union-attr]
