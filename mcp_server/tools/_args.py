"""Argument types more than one toolset takes (the data arguments live in `mcp_server.candles`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

import engine as E

__all__ = [
    "AgentArg",
    "BacktestId",
    "ConfigArg",
    "ParamsArg",
    "SearchSpec",
    "StrategyName",
    "StrategySpec",
    "config_or_default",
]

StrategyName = Literal[tuple(E.STRATEGIES)]  # type: ignore[valid-type]
ParamsArg = Annotated[
    dict[str, int | float],
    Field(
        max_length=10,
        description='Overrides of the defaults, e.g. {"fast": 10, "slow": 40} (see list_strategies)',
    ),
]
ConfigArg = Annotated[
    E.BacktestConfig | None,
    Field(description="Execution options: fees, SL/TP/trailing, direction, fill timing, sizing, leverage"),
]
AgentArg = Annotated[
    Literal["auto", "deepseek", "perplexity", "local"],
    Field(description="local: the offline analyst"),
]
BacktestId = Annotated[
    str | None, Field(pattern=r"^[0-9a-f]{16}$", description="Id returned by run_backtest")
]
ParamSpace = Annotated[
    dict[str, Annotated[str, Field(max_length=200)] | list[float]],
    Field(
        min_length=1,
        max_length=8,
        description='Ranges: "low:high[:step]" or a list, e.g. {"fast": "5:50:5", "slow": [50, 100]}',
    ),
]
ConstraintsArg = Annotated[
    list[Annotated[str, Field(max_length=120)]] | None,
    Field(max_length=8, description="Extra constraints, e.g. ['slow >= 2*fast'] (the strategy's own always apply)"),
]
ObjectiveArg = Annotated[
    str,
    Field(
        max_length=120,
        description="sharpe, sortino, calmar, total_return, profit_factor, or a weighted mix "
        "'sharpe:0.7,calmar:0.3'",
    ),
]
MinTrades = Annotated[int, Field(ge=0, le=100_000, description="Combinations with fewer trades are not ranked")]


class StrategySpec(BaseModel):
    """What to run: a strategy, its parameters and the execution options (flat in tool
    schemas and in the REST body)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: StrategyName = "ema_cross"  # type: ignore[valid-type]
    params: ParamsArg | None = None
    config: ConfigArg = None


class SearchSpec(BaseModel):
    """What to optimise: the space, the strategy, the objective and the execution options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    params: ParamSpace
    strategy: StrategyName = "ema_cross"  # type: ignore[valid-type]
    constraints: ConstraintsArg = None
    objective: ObjectiveArg = "sharpe"
    min_trades: MinTrades = 0
    config: ConfigArg = None

    def space(self) -> E.SearchSpace:
        """The engine's search space (the strategy's own constraints always apply)."""
        return E.make_space(self.strategy, self.params, self.constraints or [])


def config_or_default(config: E.BacktestConfig | None) -> E.BacktestConfig:
    """The config given, or the engine's defaults."""
    return config if config is not None else E.BacktestConfig.model_validate({})
