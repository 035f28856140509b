"""Tools grouped by toolset; `register_tools` adds the toolsets chosen in BST_TOOLSETS."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mcp.server.mcpserver import MCPServer

from mcp_server.state import AppState

__all__ = ["TOOLSET_TOOLS", "register_tools"]

# The public contract: which tool lives in which toolset (docs and tests read this).
TOOLSET_TOOLS: dict[str, tuple[str, ...]] = {
    "market": ("get_klines", "fetch_history", "list_datasets", "get_mtf"),
    "backtest": ("list_strategies", "run_backtest", "compare_strategies"),
    "analysis": (
        "analyze_backtest_results",
        "risk_management_advice",
        "technical_indicator_research",
        "explain_metric",
        "market_regime_detection",
        "code_review_strategy",
        "generate_test_scenarios",
    ),
    "agents": ("ask_agent", "run_pipeline", "router_status"),
    "optimize": ("optimize_grid", "optimize_random", "optimize_bayesian", "walk_forward"),
}


def _registrars() -> dict[str, Callable[[MCPServer[Any], AppState], None]]:
    from mcp_server.tools import agents, analysis, backtest, market, optimize

    return {
        "market": market.register,
        "backtest": backtest.register,
        "analysis": analysis.register,
        "agents": agents.register,
        "optimize": optimize.register,
    }


def register_tools(server: MCPServer[Any], state: AppState, toolsets: Iterable[str]) -> None:
    """Register the tools of each named toolset."""
    registrars = _registrars()
    for name in toolsets:
        registrars[name](server, state)
