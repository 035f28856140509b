"""REST routes of the results catalog: list stored runs (the list_runs filters, metric
bounds as repeated `min=sharpe:1.2` / `max=max_drawdown:0.2`), read one, tag it.

The catalog is synchronous (SQLAlchemy): every call runs in a worker thread, and its
errors go through the one error table (unknown run 404, unknown metric 400, database
down 503 with the fix).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
from fastapi import APIRouter, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from mcp_server.catalog import RunPage
from mcp_server.context import AppContext
from mcp_server.errors import describe, lookup
from mcp_server.stored_runs import parse_bounds, run_query, run_uris, tag_run
from mcp_server.tools.runs import RunInfo, StoredRun

__all__ = ["TagRequest", "add_run_routes"]

T = TypeVar("T")
_MIN = Query(alias="min", max_length=20, description="Lower bound metric:value, repeatable")
_MAX = Query(alias="max", max_length=20, description="Upper bound metric:value, repeatable")


class TagRequest(BaseModel):
    """The body of PATCH /api/v1/runs/{id}/tags."""

    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)
    note: str | None = Field(None, max_length=2000, description="Replaces the note (omit: kept)")


async def _catalog_call(fn: Callable[[], T]) -> T:
    """`fn` in a thread; a known error becomes its HTTP status with the fix."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except Exception as exc:
        problem = lookup(exc)
        if problem is None:
            raise
        raise HTTPException(problem.http, detail=describe(exc)) from None


def add_run_routes(app: FastAPI, context: AppContext) -> frozenset[str]:
    """Register the run routes on `app`; their paths (for the request metrics' labels)."""
    router = APIRouter()

    def stored(detail: RunInfo) -> StoredRun:
        return StoredRun(run=detail, resources=run_uris(detail.id))

    @router.get("/api/v1/runs")
    async def list_runs(
        symbol: str | None = None,
        strategy: str | None = None,
        interval: str | None = None,
        tag: str | None = None,
        since: Annotated[str | None, Query(max_length=40)] = None,
        until: Annotated[str | None, Query(max_length=40)] = None,
        lower: Annotated[list[str], _MIN] = [],  # noqa: B006 (FastAPI copies the default)
        upper: Annotated[list[str], _MAX] = [],  # noqa: B006
        sort: str = "created",
        ascending: bool = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> RunPage:
        """Stored runs, newest (or best by `sort`) first, one page."""

        def read() -> RunPage:
            q = run_query(
                symbol=symbol, strategy=strategy, interval=interval, tag=tag, since=since,
                until=until, min_metrics=parse_bounds(lower, "min"),
                max_metrics=parse_bounds(upper, "max"), sort=sort, ascending=ascending,
                limit=limit, offset=offset,
            )  # fmt: skip
            return context.catalog.catalog.list_runs(q)

        return await _catalog_call(read)

    @router.get("/api/v1/runs/{run_id}")
    async def get_run(run_id: str) -> StoredRun:
        """One stored run: everything but its arrays, and its backtest:// resources."""
        detail = await _catalog_call(lambda: context.catalog.catalog.get_run(run_id))
        return stored(RunInfo.model_validate(detail.model_dump()))

    @router.patch("/api/v1/runs/{run_id}/tags")
    async def tag(run_id: str, body: TagRequest) -> StoredRun:
        """Add and remove tags, and set the note; the run as it is now."""
        catalog = context.catalog.catalog
        detail = await _catalog_call(lambda: tag_run(catalog, run_id, body.add, body.remove, body.note))
        return stored(RunInfo.model_validate(detail.model_dump()))

    app.include_router(router)
    return frozenset(getattr(r, "path", "") for r in router.routes) - {""}
