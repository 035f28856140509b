"""What a job runs, as stored in its record: small and by reference. The candles travel
as their `DataSpec` plus the fingerprint they had at submit time; workers load them
through the one candle source and refuse data that changed since."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mcp_server.candles import DataSpec, LocalDataSpec
from mcp_server.tools._args import SearchSpec, StrategySpec

__all__ = ["BacktestJob", "SearchJob"]


class _ByReference(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # LocalDataSpec: the submitting surface already applied its own bar limit
    data: LocalDataSpec
    fingerprint: str = Field(description="The candles' fingerprint when the job was submitted")

    @classmethod
    def spec_of(cls, data: DataSpec) -> LocalDataSpec:
        return LocalDataSpec.model_validate(data.model_dump())


class BacktestJob(_ByReference):
    """One backtest."""

    run: StrategySpec


class SearchJob(_ByReference):
    """A grid or random search, split into chunks of its combinations."""

    search: SearchSpec
    method: Literal["grid", "random"] = "grid"
    n_samples: int = Field(0, ge=0)
    seed: int = Field(0, ge=0)
    overfit: bool = True
    n_blocks: int = Field(16, ge=2, le=64)
