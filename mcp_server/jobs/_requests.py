"""What a job runs, as stored in its record: small and by reference. The candles travel
as their `DataSpec` plus the fingerprint they had at submit time; workers load them
through the one candle source and refuse data that changed since."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcp_server.candles import DataSpec, LocalDataSpec
from mcp_server.tools._args import SearchSpec, StrategySpec

__all__ = ["BacktestJob", "BayesJob", "CompareJob", "ScenariosJob", "SearchJob", "WalkForwardJob"]


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


class WalkForwardJob(_ByReference):
    """A walk-forward optimisation, one split per task."""

    search: SearchSpec
    n_splits: int = Field(5, ge=1, le=100)  # the engine's (and the MCP tool's) bounds
    mode: Literal["rolling", "anchored"] = "rolling"
    train_bars: int | None = Field(None, ge=2)
    test_bars: int | None = Field(None, ge=2)
    ratio: float = Field(4.0, gt=0, le=100)

    def plan(self, candles: Any) -> Any:
        """`engine.walk_forward_plan` of this job (the same on the coordinator and workers)."""
        from engine.optimize import walk_forward_plan

        s = self.search
        return walk_forward_plan(
            candles, s.space(), s.objective, s.config, n_splits=self.n_splits, mode=self.mode,
            train_bars=self.train_bars, test_bars=self.test_bars, ratio=self.ratio,
            min_trades=s.min_trades, allow_large=True,
        )  # fmt: skip


class BayesJob(_ByReference):
    """A Bayesian search: the sampler runs on the coordinator (the submitting server), its
    trial batches on the workers."""

    search: SearchSpec
    n_trials: int = Field(100, ge=1, le=10_000)
    seed: int = Field(0, ge=0)
    prune: bool = False
    # fixed here (not "4 per core"): the batches, hence the result, must not depend on
    # the machine that coordinates
    batch_size: int = Field(16, ge=1, le=1000)
    overfit: bool = True


class ScenariosJob(_ByReference):
    """The analyst's stress scenarios of one backtest, run beside its baseline."""

    strategy: str
    params: dict[str, Any] = Field(description="The baseline's resolved parameters")
    config: dict[str, Any] = Field(description="The baseline's BacktestConfig")
    scenarios: list[dict[str, Any]]
    baseline: dict[str, Any] = Field(description="The baseline's headline metrics")
    answer: dict[str, Any] = Field(
        default_factory=dict, description="What the submitting tool answers besides the runs"
    )


class CompareJob(_ByReference):
    """Strategy configurations on the same data, split into chunks of candidates."""

    candidates: list[dict[str, Any]] = Field(description="strategy, params, config (resolved)")
    answer: dict[str, Any] = Field(
        default_factory=dict, description="What the submitting tool answers besides the runs"
    )
