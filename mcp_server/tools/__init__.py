"""The MCP tools, one module per toolset; `BST_TOOLSETS` picks which toolsets a server exposes.

A new tool is an `async def` marked `@tool(...)` in its toolset's module: that is
all it takes to register it, list it in `TOOLSET_TOOLS` and document it.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

from mcp.server.apps import Apps
from mcp.server.mcpserver import MCPServer

from mcp_server.tools import agents, analysis, backtest, jobs, live, market, optimize, runs
from mcp_server.tools._runtime import bind_views, marked_tools, register

__all__ = ["TOOLSET_MODULES", "TOOLSET_TOOLS", "bind_view_tools", "register_tools"]

TOOLSET_MODULES: dict[str, ModuleType] = {
    "market": market,
    "backtest": backtest,
    "analysis": analysis,
    "agents": agents,
    "optimize": optimize,
    "jobs": jobs,
    "runs": runs,
    "live": live,
}


# The public contract: which tool lives in which toolset (docs and tests read this).
TOOLSET_TOOLS: dict[str, tuple[str, ...]] = {
    k: tuple(mark.name for _, mark in marked_tools(m)) for k, m in TOOLSET_MODULES.items()
}


def bind_view_tools(apps: Apps, toolsets: Iterable[str]) -> None:
    """Give `apps` (before the server is built) the tools of each named toolset that have an
    MCP Apps view."""
    bind_views(apps, [TOOLSET_MODULES[name] for name in toolsets])


def register_tools(server: MCPServer[Any], toolsets: Iterable[str]) -> None:
    """Register the tools of each named toolset (after `bind_view_tools`)."""
    register(server, [TOOLSET_MODULES[name] for name in toolsets])
