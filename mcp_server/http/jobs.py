"""REST routes of the job system: submit searches, list, inspect, cancel, read results
and follow events (server-sent events, resumable with `Last-Event-ID`).

Every error goes through the one error table: an unknown job is 404, a result asked
for too early, of a cancelled or failed job, or of another kind of job is 409, and a
broker that is down is 503 with the fix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, FastAPI, Header, HTTPException, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from mcp_server.candles import DataSpec
from mcp_server.context import AppContext
from mcp_server.errors import describe, lookup
from mcp_server.events import follow_sse
from mcp_server.jobs import JobKind, JobRecord
from mcp_server.jobs._telemetry import JobsCollector
from mcp_server.tools._args import SearchSpec, StrategySpec

__all__ = [
    "BayesRequest",
    "JobView",
    "SearchRequest",
    "WalkForwardRequest",
    "add_job_routes",
    "jobs_health",
    "submit_backtest",
]

T = TypeVar("T")
_SEARCH_KINDS: tuple[JobKind, ...] = ("grid", "random")


class JobView(BaseModel):
    """A job as the REST API shows it (the request itself is left out)."""

    id: str
    kind: str
    state: str
    created: float
    started: float | None
    finished: float | None
    done: int
    total: int
    chunks: int
    error: str | None
    links: dict[str, str]

    @classmethod
    def of(cls, record: JobRecord) -> JobView:
        base = f"/api/v1/jobs/{record.id}"
        return cls(
            **record.model_dump(exclude={"request"}),
            links={"self": base, "result": f"{base}/result", "events": f"{base}/events"},
        )


class SearchRequest(SearchSpec, DataSpec):
    """The body of POST /api/v1/optimizations/{grid,random}: the optimize tools' arguments,
    flat, plus how to split the work."""

    n_samples: int = Field(100, ge=1, le=100_000, description="Random search: combinations to draw")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random search: sampler seed")
    overfit: bool = Field(True, description="Compute the overfitting report")
    chunks: int | None = Field(
        None, ge=1, le=1000, description="Tasks to split into (BST_GRID_CHUNKS)"
    )

    def parts(self) -> tuple[DataSpec, SearchSpec]:
        data = DataSpec.model_validate(self.model_dump(include=set(DataSpec.model_fields)))
        search = SearchSpec.model_validate(self.model_dump(include=set(SearchSpec.model_fields)))
        return data, search


class WalkForwardRequest(SearchSpec, DataSpec):
    """The body of POST /api/v1/optimizations/walk-forward: the walk_forward tool's
    arguments, flat; each split runs as its own task."""

    n_splits: int = Field(5, ge=2, le=50, description="Train/test splits")
    mode: Literal["rolling", "anchored"] = "rolling"
    train_bars: int | None = Field(None, ge=10, description="Train length (default from ratio)")
    test_bars: int | None = Field(None, ge=2, description="Test length (default from ratio)")
    ratio: float = Field(4.0, gt=0, le=100, description="Train length / test length")

    def parts(self) -> tuple[DataSpec, SearchSpec, dict[str, Any]]:
        data = DataSpec.model_validate(self.model_dump(include=set(DataSpec.model_fields)))
        search = SearchSpec.model_validate(self.model_dump(include=set(SearchSpec.model_fields)))
        split = self.model_dump(include={"n_splits", "mode", "train_bars", "test_bars", "ratio"})
        return data, search, split


class BayesRequest(SearchSpec, DataSpec):
    """The body of POST /api/v1/optimizations/bayes: the sampler runs in the server, each
    batch of trials on a worker."""

    n_trials: int = Field(100, ge=1, le=10_000, description="Distinct trials to evaluate")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Sampler seed")
    prune: bool = Field(False, description="Drop trials trailing on the first half of the data")
    batch_size: int = Field(16, ge=1, le=1000, description="Trials per batch (one task each)")
    overfit: bool = Field(True, description="Compute the overfitting report")

    def parts(self) -> tuple[DataSpec, SearchSpec, dict[str, Any]]:
        data = DataSpec.model_validate(self.model_dump(include=set(DataSpec.model_fields)))
        search = SearchSpec.model_validate(self.model_dump(include=set(SearchSpec.model_fields)))
        options = self.model_dump(include={"n_trials", "seed", "prune", "batch_size", "overfit"})
        return data, search, options


async def _job_call(fn: Callable[[], T]) -> T:
    """Run a job-service call in a thread; known errors become HTTP errors with the fix."""
    return await _http_errors(anyio.to_thread.run_sync(fn))


async def _http_errors(call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as exc:
        raise _as_http(exc) from None


def _as_http(exc: Exception) -> Exception:
    """The HTTP error of a known error (its table row); an unknown one stays itself (a bug)."""
    problem = lookup(exc)
    return exc if problem is None else HTTPException(problem.http, detail=describe(exc))


def _accepted(record: JobRecord) -> JSONResponse:
    view = JobView.of(record)
    return JSONResponse(view.model_dump(mode="json"), status_code=202,
                        headers={"Location": view.links["self"]})  # fmt: skip


async def submit_backtest(context: AppContext, data: DataSpec, run: StrategySpec) -> JSONResponse:
    """POST /api/v1/backtests?mode=async: queue the backtest, answer 202 with the job."""
    loaded = await _http_errors(context.candles.load(data))
    record = await _job_call(lambda: context.jobs.submit_backtest(loaded, run))
    return _accepted(record)


def add_job_routes(app: FastAPI, context: AppContext) -> frozenset[str]:
    """Register the job routes on `app`; their paths (for the request metrics' labels)."""
    router = APIRouter()
    jobs = context.jobs
    context.telemetry.registry.register(JobsCollector(jobs))

    async def submit(
        request: BayesRequest | WalkForwardRequest, how: Callable[..., JobRecord]
    ) -> JSONResponse:
        data, search, options = request.parts()
        loaded = await _http_errors(context.candles.load(data))
        return _accepted(await _job_call(lambda: how(loaded, search, **options)))

    # before /{method}: a literal path must be matched first
    @router.post("/api/v1/optimizations/bayes", status_code=202)
    async def bayes(request: BayesRequest) -> JSONResponse:
        """A Bayesian search as a job: sampler here, trial batches on the workers."""
        return await submit(request, jobs.submit_bayes)

    @router.post("/api/v1/optimizations/walk-forward", status_code=202)
    async def walk_forward(request: WalkForwardRequest) -> JSONResponse:
        """A walk-forward optimisation as a job, one task per split."""
        return await submit(request, jobs.submit_walk_forward)

    @router.post("/api/v1/optimizations/{method}", status_code=202)
    async def optimizations(
        method: Literal["grid", "random"], request: SearchRequest
    ) -> JSONResponse:
        """A grid or random search as a job split into chunks for the workers."""
        data, search = request.parts()
        loaded = await _http_errors(context.candles.load(data))
        record = await _job_call(
            lambda: jobs.submit_search(
                loaded, search, method=method, n_samples=request.n_samples, seed=request.seed,
                overfit=request.overfit, chunks=request.chunks,
            )
        )  # fmt: skip
        return _accepted(record)

    @router.get("/api/v1/jobs")
    async def list_jobs(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
        records = await _job_call(lambda: jobs.recent(limit))
        return {"jobs": [JobView.of(r).model_dump(mode="json") for r in records]}

    @router.get("/api/v1/jobs/{job_id}")
    async def get_job(job_id: str) -> JobView:
        return JobView.of(await _job_call(lambda: jobs.get(job_id)))

    @router.get("/api/v1/jobs/{job_id}/result")
    async def job_result(job_id: str) -> dict[str, Any]:
        return await _job_call(lambda: jobs.result(job_id))

    @router.delete("/api/v1/jobs/{job_id}")
    async def cancel_job(job_id: str) -> JobView:
        """Cancel: running chunks stop at their next progress step, queued ones never run."""
        return JobView.of(await _job_call(lambda: jobs.cancel(job_id)))

    @router.get("/api/v1/jobs/{job_id}/events")
    async def job_events(
        job_id: str, last_event_id: Annotated[str | None, Header()] = None
    ) -> StreamingResponse:
        """Server-sent events of the job until it ends; reconnect with Last-Event-ID."""
        await _job_call(lambda: jobs.get(job_id))
        stream = follow_sse(jobs.bus, job_id, last_event_id)
        first = await _http_errors(
            _first(stream)
        )  # a bad Last-Event-ID is a 400, not a broken stream
        return StreamingResponse(_chain(first, stream), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})  # fmt: skip

    app.include_router(router)
    return frozenset(getattr(r, "path", "") for r in router.routes) - {""}


async def _first(stream: Any) -> str | None:
    try:
        first: str = await stream.__anext__()
        return first
    except StopAsyncIteration:
        return None


async def _chain(first: str | None, stream: Any) -> Any:
    if first is None:
        return
    yield first
    async for chunk in stream:
        yield chunk


async def jobs_health(context: AppContext) -> dict[str, Any]:
    """The /health section of jobs: mode, broker and worker reachability, within seconds."""
    try:
        with anyio.fail_after(8):
            return await anyio.to_thread.run_sync(context.jobs.health, abandon_on_cancel=True)
    except Exception as exc:  # health reports, never raises
        return {"mode": context.jobs.mode, "broker": f"unreachable: {type(exc).__name__}: {exc}"[:300],
                "workers": [], "note": "jobs cannot be queued; in-process tools and routes still work"}  # fmt: skip
