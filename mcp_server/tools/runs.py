"""Toolset `runs`: the results catalog read back. Every backtest any surface or worker
ran is kept in the database (across restarts): list them filtered and sorted by any
metric, and read one in full; compare_strategies ranks stored runs by id."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.catalog import RunDetail, RunPage
from mcp_server.stored_runs import run_query, run_uris
from mcp_server.tools._runtime import READ_ONLY, app, tool
from mcp_server.ui_links import page_address, page_path

__all__ = ["RunId", "RunInfo", "StoredRun", "get_run", "list_runs"]

RunId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$", description="Run id (= backtest id)")]
_Bounds = Annotated[dict[str, float] | None, Field(max_length=20)]
_Time = Annotated[str | None, Field(max_length=40)]


class RunInfo(RunDetail):
    """A run as the tool shows it: the engine's raw summary stays in the catalog."""

    summary: dict[str, Any] = Field(default_factory=dict, exclude=True)


class StoredRun(BaseModel):
    run: RunInfo = Field(description="Inputs, data set, every metric, tags and note")
    resources: dict[str, str] = Field(description="backtest:// URIs of trades, equity, report")
    page: str | None = None


@tool("List runs", READ_ONLY)
async def list_runs(
    ctx: Context,
    symbol: str | None = None,
    strategy: str | None = None,
    interval: str | None = None,
    tag: str | None = None,
    since: Annotated[_Time, Field(description="ISO date/time, UTC")] = None,
    until: Annotated[_Time, Field(description="ISO; a date includes that day")] = None,
    min_metrics: Annotated[_Bounds, Field(description='Lower bounds, e.g. {"sharpe": 1}')] = None,
    max_metrics: Annotated[_Bounds, Field(description='Upper bounds, e.g. {"max_drawdown": 0.2}')] = None,
    sort: Annotated[str, Field(description="created, or any metric (sharpe, total_return...)")] = "created",
    ascending: bool = False,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    offset: Annotated[int, Field(ge=0)] = 0,
) -> RunPage:
    """Stored backtests (any session, surface or worker), newest or best first, with
    their headline metrics; next_offset gives the next page. Then get_run or
    compare_strategies(runs=[ids])."""
    q = run_query(
        symbol=symbol, strategy=strategy, interval=interval, tag=tag, since=since, until=until,
        min_metrics=min_metrics, max_metrics=max_metrics, sort=sort, ascending=ascending,
        limit=limit, offset=offset,
    )  # fmt: skip
    catalog = app(ctx).catalog.catalog
    return await anyio.to_thread.run_sync(catalog.list_runs, q)


@tool("Get run", READ_ONLY)
async def get_run(ctx: Context, run_id: RunId) -> StoredRun:
    """One stored run in full but its arrays: params, config, data set, every metric,
    tags, note, its backtest:// URIs and web page."""
    context = app(ctx)
    detail = await anyio.to_thread.run_sync(context.catalog.catalog.get_run, run_id)
    shared = context.cache.kind == "redis"
    page = page_address(context.settings, page_path("backtest", run_id), shared_results=shared)
    run = RunInfo.model_validate(detail.model_dump())
    return StoredRun(run=run, resources=run_uris(run_id), page=page)
