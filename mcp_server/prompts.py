"""Prompts: reusable research workflows the user can pick in their MCP client."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

import engine as E
from mcp_server.candles import DEFAULT_INTERVAL, DEFAULT_SYMBOL, IntervalArg, SymbolArg

__all__ = ["register_prompts", "research_strategy", "robustness_review"]

_NAMES = ", ".join(E.STRATEGIES)


def research_strategy(
    idea: Annotated[str, Field(max_length=2000, description="The trading idea in plain words")],
    symbol: SymbolArg = DEFAULT_SYMBOL,
    interval: IntervalArg = DEFAULT_INTERVAL,
) -> str:
    """Turn a trading idea into tested candidates: pick strategies, backtest, compare, analyse."""
    return (
        f"Research this trading idea on {symbol} {interval}: {idea}\n\n"
        "Work step by step with the tools, keeping results compact:\n"
        f"1. Call list_strategies and choose the built-in strategies ({_NAMES}) that express the idea; "
        "explain the mapping in one sentence each.\n"
        f"2. Call compare_strategies with 3-6 candidates on {symbol} {interval} (source='sample' first, "
        "source='store' when real data is available), rank_by='sharpe'.\n"
        "3. For the best candidate call run_backtest and read the headline metrics; open "
        "backtest://{id}/report only if a number needs explaining.\n"
        "4. Call analyze_backtest_results with the id and report the verdict and red flags.\n"
        "5. Conclude with what is supported by the evidence, what is not, and the next test. "
        "Say plainly when results come from synthetic data."
    )


def robustness_review(
    backtest_id: Annotated[
        str, Field(pattern=r"^[0-9a-f]{16}$", description="Id from run_backtest")
    ],
) -> str:
    """Stress a backtest for overfitting and fragile assumptions before trusting it."""
    return (
        f"Review backtest {backtest_id} for robustness before anyone trusts it.\n\n"
        f"1. Read backtest://{backtest_id}/report: note trade count, exposure, fees vs gross "
        "edge, drawdown and Sharpe.\n"
        "2. Call generate_test_scenarios with the same strategy, params and config: it runs "
        "doubled costs, fill timing, intrabar ambiguity, a crash gap, doubled volatility, "
        "walk-forward segments and parameter neighbourhoods on the engine.\n"
        "3. Call analyze_backtest_results with the id and risk_management_advice for sizing.\n"
        "4. Answer: does the edge survive costs and neighbouring parameters? Is it stable across "
        "segments? Which single assumption would break it? Give a verdict: robust, fragile or "
        "overfit, with the evidence for it."
    )


def register_prompts(server: MCPServer[Any]) -> None:
    """Add the research prompts to `server`."""
    server.prompt(title="Research a strategy")(research_strategy)
    server.prompt(title="Robustness review")(robustness_review)
