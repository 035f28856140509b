"""The MCP tools, one module per toolset; `BST_TOOLSETS` picks which toolsets a server exposes.

A new tool is an `async def` marked `@tool(...)` in its toolset's module: that is
all it takes to register it, list it in `TOOLSET_TOOLS` and document it.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

from mcp.server.mcpserver import MCPServer

from mcp_server.tools import agents, analysis, backtest, market, optimize
from mcp_server.tools._runtime import ToolMark, register

__all__ = ["TOOLSET_MODULES", "TOOLSET_TOOLS", "register_tools"]

TOOLSET_MODULES: dict[str, ModuleType] = {
    "market": market,
    "backtest": backtest,
    "analysis": analysis,
    "agents": agents,
    "optimize": optimize,
}


def _names(module: ModuleType) -> tuple[str, ...]:
    marks = (getattr(fn, "__mcp_tool__", None) for fn in vars(module).values())
    return tuple(m.name for m in marks if isinstance(m, ToolMark))


# The public contract: which tool lives in which toolset (docs and tests read this).
TOOLSET_TOOLS: dict[str, tuple[str, ...]] = {k: _names(m) for k, m in TOOLSET_MODULES.items()}


def register_tools(server: MCPServer[Any], toolsets: Iterable[str]) -> None:
    """Register the tools of each named toolset."""
    for name in toolsets:
        register(server, TOOLSET_MODULES[name])
