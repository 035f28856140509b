"""The HTTP app's own routes: /health, /metrics, the seeds' market REST routes and
`POST /api/v1/backtests`. Each calls the same `AppContext` services as the MCP tools,
and known errors become the status the error table gives them."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from market import SYNTHETIC_HEADER
from mcp_server import market_views
from mcp_server.candles import Category, DataSpec
from mcp_server.context import AppContext
from mcp_server.errors import describe, lookup
from mcp_server.events._stats import health_section as events_health
from mcp_server.events._stats import metrics_text as events_metrics
from mcp_server.http._catalog_health import catalog_health
from mcp_server.http.jobs import jobs_health, submit_backtest
from mcp_server.results import BacktestSummary, summary_model
from mcp_server.tools._args import StrategySpec
from mcp_server.tools.backtest import backtest_once
from mcp_server.validation import rest_validation_handler
from ohlcv import INTERVALS, DataLabel, normalize_interval

__all__ = ["BacktestRequest", "add_routes"]

T = TypeVar("T")
SymbolQuery = Annotated[str, Query(pattern=r"^[A-Za-z0-9]{2,24}$")]
LoadLimit = Annotated[int, Query(ge=1, le=1000)]


class BacktestRequest(StrategySpec, DataSpec):
    """The body of POST /api/v1/backtests: run_backtest's arguments, flat."""

    def parts(self) -> tuple[DataSpec, StrategySpec]:
        """The request as the two argument models every surface uses."""
        data = DataSpec.model_validate(self.model_dump(include=set(DataSpec.model_fields)))
        run = StrategySpec.model_validate(self.model_dump(include=set(StrategySpec.model_fields)))
        return data, run


async def _answer(context: AppContext, call: Awaitable[T], upstream: str) -> T:
    """`await call`, with known errors as HTTP errors that say how to fix the request."""
    try:
        return await call
    except Exception as exc:
        problem = lookup(exc)
        if problem is None:
            raise
        if problem.kind == "upstream":
            context.telemetry.upstream_errors.labels(upstream, type(exc).__name__).inc()
        raise HTTPException(status_code=problem.http, detail=describe(exc)) from None


def _interval(value: str) -> str:
    try:
        return normalize_interval(value.strip())
    except ValueError:
        raise HTTPException(400, f"interval must be one of {','.join(INTERVALS)}") from None


def add_routes(app: FastAPI, context: AppContext) -> frozenset[str]:
    """Mount the routes on `app`; their paths."""
    router = APIRouter()
    started = time.time()

    @router.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse(await _health(context, started))

    @router.get("/metrics")
    async def metrics() -> Response:
        context.live.sync_metrics()
        await catalog_health(context)  # sets the catalog gauges
        body = context.telemetry.render() + await events_metrics(context.events())
        return Response(body, media_type="text/plain; version=0.0.4")

    @router.get("/api/v1/marketdata/bybit/klines/working")
    async def klines_working(
        symbol: SymbolQuery, interval: str = "15", load_limit: LoadLimit = 1000,
        category: Category = "linear",
    ) -> JSONResponse:
        """The working set: the newest 500 closed candles (loaded once, then topped up).
        The body is the seeds' bare list of rows, so the data's label rides in headers."""
        call = market_views.working_set(context, symbol, _interval(interval), category, load_limit)
        candles = await _answer(context, call, "market")
        label = market_views.data_label(candles)
        return JSONResponse(market_views.candle_rows(candles), headers=_label_headers(label))

    @router.get("/api/v1/marketdata/bybit/mtf")
    async def mtf(
        symbol: SymbolQuery,
        intervals: str = "1,15,60",
        base: str | None = None,
        aligned: Annotated[int, Query(ge=0, le=1)] = 1,
        load_limit: LoadLimit = 1000,
        category: Category = "linear",
    ) -> dict[str, Any]:
        """Several timeframes; aligned=1 resamples them from `base` (default the smallest).
        `partial` marks buckets the data does not fully cover (the newest is still forming)."""
        wanted = [i.strip() for i in intervals.split(",") if i.strip()]
        if not wanted or len(wanted) > 8:
            raise HTTPException(400, "intervals: 1 to 8 comma-separated values, e.g. 1,15,60")
        call = market_views.mtf(
            context, symbol, [_interval(i) for i in wanted], base=_interval(base) if base else None,
            aligned=bool(aligned), load_limit=load_limit, category=category,
        )  # fmt: skip
        views = await _answer(context, call, "market")
        label = market_views.data_label(*(v.candles for v in views.values()))
        return {
            "symbol": symbol.upper(),
            "synthetic": label.synthetic,
            "provenance": label.text,
            "intervals": list(views),
            "data": {k: market_views.candle_rows(v.candles) for k, v in views.items()},
            "partial": {k: {"first": v.partial_first, "last": v.partial_last} for k, v in views.items()},
        }

    @router.post("/api/v1/backtests", response_model=None)
    async def backtests(
        request: BacktestRequest, mode: Literal["sync", "async"] = "sync"
    ) -> BacktestSummary | JSONResponse:
        """One backtest: the same arguments and result as the MCP tool run_backtest;
        `mode=async` queues it as a job instead (202 and the job)."""
        if mode == "async":
            return await submit_backtest(context, *request.parts())
        call = backtest_once(context, *request.parts(), chart=False)
        return summary_model(await _answer(context, call, "engine"))

    app.include_router(router)
    app.add_exception_handler(RequestValidationError, rest_validation_handler)
    return frozenset(getattr(r, "path", "") for r in router.routes) - {""}


def _label_headers(label: DataLabel) -> dict[str, str]:
    """The wording, and for synthetic data the fake Bybit's own header (any value of
    which means synthetic to our client)."""
    return {"X-Data-Provenance": label.text} | ({SYNTHETIC_HEADER: "true"} if label.synthetic else {})


async def _health(context: AppContext, started: float) -> dict[str, Any]:
    cache = await context.cache.health()
    store: dict[str, Any] = {"data_dir": str(context.settings.server.data_dir)}
    try:
        context.store.check_writable()
        store["ok"] = True
    except Exception as exc:  # health reports, never raises
        store.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:200])
    rc = context.settings.router.to_router_config()
    router = {"mode": rc.mode.value, "deepseek": rc.deepseek.configured,
              "perplexity": rc.perplexity.configured, "local": True}  # fmt: skip
    jobs = await jobs_health(context)
    jobs_ok = jobs.get("broker") in ("ok", "in-process")
    events = await events_health(context.events())
    catalog = await catalog_health(context)
    # a catalog that is down or behind costs records their timeliness, not results: degraded
    catalog_ok = catalog["status"] == "ok"
    parts_ok = cache.get("ok") and store.get("ok") and events["ok"] and jobs_ok and catalog_ok
    return {
        "status": "ok" if parts_ok else "degraded",
        "uptime_s": round(time.time() - started, 1),
        "toolsets": context.settings.server.toolsets,
        "store": store,
        "cache": cache,
        "router": router,
        "events": events,
        "jobs": jobs,
        "catalog": catalog,
        "live": await context.live.health(),
    }
