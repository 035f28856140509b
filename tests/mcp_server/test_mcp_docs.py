"""docs/mcp.md tells the truth: its tool table is the server's, its mcp.json is vscode/mcp.json."""

from __future__ import annotations

import re
from typing import Any

from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server.docgen import DOC, VSCODE_MCP, update_docs
from mcp_server.tools import TOOLSET_TOOLS


def test_generated_blocks_are_up_to_date() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert update_docs(text) == text, "run: uv run python -m mcp_server.docgen"
    assert VSCODE_MCP.read_text(encoding="utf-8").strip() in text


async def test_tool_table_lists_exactly_the_server_tools(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        live = {t.name for t in (await client.list_tools()).tools}
    documented = set(re.findall(r"^\| \w+ \| `(\w+)` \|", DOC.read_text(encoding="utf-8"), re.M))
    assert documented == live
    assert f"{len(live)} tools in {len(TOOLSET_TOOLS)} toolsets" in DOC.read_text(encoding="utf-8")
