"""Argument types more than one toolset takes (the data arguments live in `mcp_server.candles`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

import engine as E

__all__ = ["AgentArg", "BacktestId", "ConfigArg", "ParamsArg", "StrategyName"]

StrategyName = Literal[tuple(E.STRATEGIES)]  # type: ignore[valid-type]
ParamsArg = Annotated[
    dict[str, int | float],
    Field(
        max_length=10,
        description='Strategy parameters overriding the defaults, e.g. {"fast": 10, "slow": 40}; '
        "see list_strategies for names and ranges",
    ),
]
ConfigArg = Annotated[
    E.BacktestConfig | None,
    Field(description="Execution options: fees, SL/TP/trailing, direction, fill timing, sizing, leverage"),
]
AgentArg = Annotated[
    Literal["auto", "deepseek", "perplexity", "local"],
    Field(description="auto = the routing table; local = the offline analyst (always available)"),
]
BacktestId = Annotated[
    str | None, Field(pattern=r"^[0-9a-f]{16}$", description="Id returned by run_backtest")
]


def config_or_default(config: E.BacktestConfig | None) -> E.BacktestConfig:
    """The config given, or the engine's defaults."""
    return config if config is not None else E.BacktestConfig.model_validate({})
