"""Backtests for every surface: cache lookup, the engine off the event loop, results kept by id.

A backtest's id is derived from its cache key (data fingerprint, strategy,
resolved parameters, config), so the same request always gets the same id. The
summary and the request live in the result cache under that key (and the id
points at it), so an id outlives the in-memory result: resources re-run the
request when needed, if its data still loads with the same fingerprint (the
engine is deterministic). Every backtest computed here is also recorded in the results
catalog, which answers for an id the process and the cache have forgotten (after a
restart): re-run as above, or, when the data no longer loads the same, its stored
trades and equity outline; never another backtest's trades.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
from pydantic import BaseModel, Field

import engine as E
from mcp_server._recording import Recording, outline_result
from mcp_server.cache import ResultCache
from mcp_server.candles import CandleSource, DataSet, DataSpec
from mcp_server.errors import (
    CatalogError,
    DataUnavailableError,
    ResultNotFoundError,
    RunNotFoundError,
)
from mcp_server.numbers import round_json
from mcp_server.telemetry import Telemetry
from ohlcv import Candles, TtlLru, describe_data

__all__ = [
    "HEADLINE_METRICS",
    "BacktestResources",
    "BacktestResults",
    "BacktestSummary",
    "RecentResult",
    "StoredBacktest",
    "backtest_item",
    "backtest_request",
    "headline",
    "stored_recent",
    "summary_model",
]

if TYPE_CHECKING:
    from mcp_server.catalog import CatalogItem

log = logging.getLogger("mcp_server.results")

HEADLINE_METRICS = (
    "total_return",
    "cagr",
    "max_drawdown",
    "sharpe",
    "sortino",
    "calmar",
    "n_trades",
    "win_rate",
    "profit_factor",
    "expectancy_return",
    "exposure",
    "fees_paid",
    "buy_and_hold_return",
)
T = TypeVar("T")

# matplotlib's figure state is process-wide: renders from worker threads take turns.
CHART_LOCK = threading.Lock()


@dataclass
class StoredBacktest:
    """One backtest as the server keeps it: the summary always, the full result while in memory."""

    id: str
    request: dict[str, Any]
    summary: dict[str, Any]
    result: E.BacktestResult | None = None
    chart_png: bytes | None = None
    cached: bool = False
    notes: tuple[str, ...] = field(default=())
    created: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RecentResult:
    """One line of the recent-results listing (the web index): what it is and its headline."""

    kind: Literal["backtest", "optimization", "walk_forward"]
    id: str
    created: float  # unix seconds
    title: str
    headline: dict[str, Any]


class BacktestResources(BaseModel):
    trades: str = Field(description="URI of the trade list (JSON)")
    equity: str = Field(description="URI of the equity and drawdown curve (JSON)")
    report: str = Field(description="URI of the full report: every metric, config, data summary")


class BacktestSummary(BaseModel):
    """Headline result of one backtest; details are in the resources."""

    id: str = Field(description="Backtest id; use it with the backtest:// resources and analysis tools")
    strategy: str
    params: dict[str, int | float]
    symbol: str
    interval: str
    source: Literal["sample", "store", "file"]
    synthetic: bool = Field(
        description="True when the data is synthetic (the sample, or candles from the offline fake "
        "Bybit), not market data"
    )
    bars: int
    start: str | None
    end: str | None
    metrics: dict[str, float | int | None] = Field(
        description="Headline metrics (fractions: 0.12 = 12 %); all metrics are in the report"
    )
    cached: bool = Field(description="Served from the result cache")
    resources: BacktestResources
    notes: list[str] = Field(default_factory=list)
    page: str | None = Field(default=None, description="Web page of this result (while the HTTP server runs)")


def _json_value(v: Any) -> Any:
    return None if isinstance(v, float) and v != v else v  # NaN is not JSON


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics a model needs to judge a run; the rest is in the report resource."""
    return {k: _json_value(metrics.get(k)) for k in HEADLINE_METRICS if k in metrics}


def cache_key(fingerprint: str, strategy: str, params: Mapping[str, Any], config: E.BacktestConfig) -> str:
    """sha256 over the canonical JSON of everything that determines the result."""
    payload = json.dumps(
        {"data": fingerprint, "strategy": strategy, "params": dict(params),
         "config": config.model_dump(mode="json")},
        sort_keys=True, separators=(",", ":"),
    )  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()


class BacktestResults:
    """Runs backtests with caching; keeps results addressable by id for resources."""

    def __init__(
        self,
        candles: CandleSource,
        cache: ResultCache,
        telemetry: Telemetry,
        *,
        slots: int = 64,
        engine_lane: anyio.CapacityLimiter | None = None,
        recording: Recording | None = None,
    ) -> None:
        self.candles = candles
        self.recording = recording
        self.cache = cache
        self.telemetry = telemetry
        self._held: TtlLru[str, StoredBacktest] = TtlLru(slots)
        self._lock = threading.Lock()
        self._lane = engine_lane

    def _remember(self, stored: StoredBacktest) -> None:
        with self._lock:
            self._held.set(stored.id, stored)
            self.telemetry.results_in_memory.set(len(self._held))

    def _held_get(self, bid: str) -> StoredBacktest | None:
        with self._lock:
            return self._held.get(bid)

    async def run(
        self,
        data: DataSet,
        strategy: str,
        params: Mapping[str, Any] | None,
        config: E.BacktestConfig,
        *,
        chart: bool = True,
    ) -> StoredBacktest:
        """Backtest `strategy` on `data` (cached by data fingerprint + inputs)."""
        strat = E.get_strategy(strategy)
        resolved = strat.resolve_params(params or {})
        key = cache_key(data.fingerprint, strat.name, resolved, config)
        hit = await self._cached(key, chart)
        if hit is not None:
            self.telemetry.cache_requests.labels("backtest", "hit").inc()
            return replace(hit, cached=True, notes=data.notes)
        self.telemetry.cache_requests.labels("backtest", "miss").inc()
        request = backtest_request(data, strat.name, resolved, config)

        def work() -> tuple[E.BacktestResult, bytes | None]:
            result = E.backtest(data.candles, strat, resolved, config)
            return result, (_render_chart(result, data.spec.source, data.candles) if chart else None)

        result, png = await anyio.to_thread.run_sync(work, limiter=self._lane)
        summary = _summary(result, data.spec)
        stored = StoredBacktest(key[:16], request, summary, result, png, notes=data.notes)
        self._remember(stored)
        await self.cache.set_json("backtest", key, {"request": request, "summary": summary})
        await self.cache.set_json("backtest", _id_key(stored.id), {"key": key})
        if png is not None:
            await self.cache.set_bytes("backtest", key + ":png", png)
        await self._record(key, request, summary, result)
        return stored

    async def adopt(self, request: dict[str, Any], summary: dict[str, Any]) -> StoredBacktest:
        """Keep a backtest another process ran (a job's worker) as if it ran here: the same
        id (its inputs'), its summary in the cache, the full result rebuilt on demand."""
        config = E.BacktestConfig.model_validate(request["config"])
        key = cache_key(request["fingerprint"], request["strategy"], request["params"], config)
        stored = StoredBacktest(key[:16], request, summary)
        self._remember(stored)
        await self.cache.set_json("backtest", key, {"request": request, "summary": summary})
        await self.cache.set_json("backtest", _id_key(stored.id), {"key": key})
        # usually a duplicate of the worker's own record (which has the trades too)
        await self._record(key, request, summary, None)
        return stored

    async def _record(
        self, key: str, request: dict[str, Any], summary: dict[str, Any],
        result: E.BacktestResult | None,
    ) -> None:  # fmt: skip
        rec = self.recording
        if rec is None:
            return
        from mcp_server.catalog import run_item

        await rec.record(lambda: run_item(key, request, summary, result, role=rec.role))

    async def _cached(self, key: str, chart: bool) -> StoredBacktest | None:
        held = self._held_get(key[:16])
        if held is not None and (held.chart_png is not None or not chart):
            return held
        hit = await self.cache.get_json("backtest", key)
        if hit is None or "request" not in hit:
            return None
        png = await self.cache.get_bytes("backtest", key + ":png") if chart else None
        if chart and png is None:
            return None
        stored = StoredBacktest(key[:16], hit["request"], hit["summary"], chart_png=png)
        self._remember(stored)
        return stored

    async def get(self, bid: str, *, need_result: bool = True) -> StoredBacktest:
        """The backtest `bid`: from memory, else from the result cache, else from the
        catalog (re-run from its request when the full result is needed and the same
        data still loads; else the catalog's stored trades and equity outline)."""
        stored = self._held_get(bid) or await self._from_cache(bid) or await self._from_catalog(bid)
        if stored is None:
            raise ResultNotFoundError(f"no backtest with id {bid!r} on this server or in the catalog")
        if need_result and stored.result is None:
            try:
                stored.result = await self._rebuild(stored)
            except (ResultNotFoundError, DataUnavailableError) as exc:
                try:
                    outlined = await self._outlined(stored)
                except CatalogError:
                    outlined = None  # a catalog that is down: the data's own reason stands
                if outlined is None:
                    raise exc from None
                stored.result = outlined
        return stored

    async def _from_catalog(self, bid: str) -> StoredBacktest | None:
        if self.recording is None:
            return None
        try:
            detail = await self.recording.read(lambda c: c.get_run(bid))
        except RunNotFoundError:
            return None
        if detail is None:
            return None
        request = {"data": detail.data, "fingerprint": detail.fingerprint,
                   "strategy": detail.strategy, "params": detail.params, "config": detail.config}  # fmt: skip
        created = datetime.fromisoformat(detail.created.replace("Z", "+00:00")).timestamp()
        stored = StoredBacktest(bid, request, dict(detail.summary), created=created)
        self._remember(stored)
        return stored

    async def _outlined(self, stored: StoredBacktest) -> E.BacktestResult | None:
        """`stored` from the catalog's trades and equity outline (None when it has none)."""
        if self.recording is None:
            return None
        blobs = await self.recording.read(
            lambda c: (c.artifact(stored.id, "trades"), c.artifact(stored.id, "equity"))
        )
        if blobs is None or blobs[1] is None:
            return None
        result = outline_result(stored.summary, blobs[0] or b"", blobs[1])
        n = int(result.extra["equity_outline"])
        stored.notes = (*stored.notes, f"The data this backtest ran on no longer loads the same: "
                        f"trades as stored in the catalog, equity outline of {n} points.")  # fmt: skip
        return result

    def recent(self) -> list[RecentResult]:
        """The backtests held in memory, newest first."""
        with self._lock:
            held = [stored for _, stored in self._held.items()]
        rows = [
            RecentResult("backtest", b.id, b.created, _backtest_title(b.summary),
                         {k: _json_value(b.summary["metrics"].get(k)) for k in _RECENT_METRICS})
            for b in held
        ]  # fmt: skip
        return sorted(rows, key=lambda r: r.created, reverse=True)

    async def in_lane(self, work: Callable[[], T]) -> T:
        """`work` (engine code) on a worker thread, in the one engine lane."""
        return await anyio.to_thread.run_sync(work, limiter=self._lane)

    async def chart(self, bid: str) -> bytes:
        """The equity chart PNG of `bid`, rendered on first request and then kept."""
        stored = await self.get(bid)
        if stored.chart_png is None:
            result = stored.result
            assert result is not None
            source, candles = stored.summary.get("source"), await self._candles_of(stored)
            stored.chart_png = await anyio.to_thread.run_sync(
                lambda: _render_chart(result, source, candles), limiter=self._lane
            )
        return stored.chart_png

    async def _candles_of(self, stored: StoredBacktest) -> Candles | None:
        """The candles `stored` ran on, for the chart's buy-and-hold line (None when its
        data no longer loads the same: the chart then shows the strategy alone)."""
        try:
            data = await self.candles.load(DataSpec.model_validate(stored.request["data"]))
        except DataUnavailableError:
            return None
        return data.candles if data.fingerprint == stored.request.get("fingerprint") else None

    async def _from_cache(self, bid: str) -> StoredBacktest | None:
        pointer = await self.cache.get_json("backtest", _id_key(bid))
        hit = await self.cache.get_json("backtest", pointer["key"]) if pointer else None
        if not hit or "request" not in hit:
            return None
        stored = StoredBacktest(bid, hit["request"], hit["summary"])
        self._remember(stored)
        return stored

    async def _rebuild(self, stored: StoredBacktest) -> E.BacktestResult:
        req = stored.request
        data = await self.candles.load(DataSpec.model_validate(req["data"]))
        if data.fingerprint != req.get("fingerprint"):
            # The store or the file changed since, or the run was on transformed data (a
            # stress scenario): the spec no longer loads what was tested.
            raise ResultNotFoundError(
                f"backtest {stored.id} ran on data that no longer loads the same way"
            )
        config = E.BacktestConfig.model_validate(req["config"])
        strat = E.get_strategy(req["strategy"])
        return await anyio.to_thread.run_sync(
            lambda: E.backtest(data.candles, strat, req["params"], config), limiter=self._lane
        )


_RECENT_METRICS = ("total_return", "sharpe", "max_drawdown", "n_trades")


def backtest_request(
    data: DataSet, strategy: str, resolved: Mapping[str, Any], config: E.BacktestConfig
) -> dict[str, Any]:
    """What a backtest ran: enough to run it again, and to tell whether its data still
    loads the same (the fingerprint)."""
    return {
        "data": data.spec.model_dump(mode="json"),
        "fingerprint": data.fingerprint,  # what the spec loaded then: checked on rebuild
        "strategy": strategy,
        "params": dict(resolved),
        "config": config.model_dump(mode="json"),
    }


def backtest_item(
    data: DataSet, result: E.BacktestResult, config: E.BacktestConfig, role: str
) -> CatalogItem:
    """The catalog's record of `result` (computed on `data` with `config`) by `role`: the
    same id and key the server gives the same backtest."""
    from mcp_server.catalog import run_item

    strat = E.get_strategy(result.strategy)
    resolved = strat.resolve_params(result.params)
    key = cache_key(data.fingerprint, strat.name, resolved, config)
    request = backtest_request(data, strat.name, resolved, config)
    return run_item(key, request, _summary(result, data.spec), result, role=role)


def _backtest_title(s: Mapping[str, Any]) -> str:
    params = " ".join(f"{k}={v}" for k, v in dict(s.get("params", {})).items())
    return " ".join(str(x) for x in (s.get("strategy"), params, "on", s.get("symbol"), s.get("interval")) if x)


def _id_key(bid: str) -> str:
    return "id:" + bid


def _render_chart(result: E.BacktestResult, source: str | None, candles: Candles | None) -> bytes:
    with CHART_LOCK:
        return E.render_equity_png(result, candles=candles, source=source, width=8.0, height=5.0, dpi=80)


def _summary(result: E.BacktestResult, spec: DataSpec) -> dict[str, Any]:
    s = result.summary()
    s["metrics"] = {k: _json_value(v) for k, v in result.metrics.items()}
    s["source"] = spec.source
    s["category"] = spec.category
    s["config"] = result.config
    return s


def summary_model(stored: StoredBacktest) -> BacktestSummary:
    """The compact result every surface returns for one backtest."""
    s = stored.summary
    bid = stored.id
    return BacktestSummary(
        id=bid,
        strategy=s["strategy"],
        params=dict(s["params"]),
        symbol=s["symbol"],
        interval=s["interval"],
        source=s.get("source", "sample"),
        synthetic=bool(s["synthetic"]),
        bars=int(s["bars"]),
        start=s.get("start"),
        end=s.get("end"),
        metrics=round_json(headline(s["metrics"])),
        cached=stored.cached,
        resources=BacktestResources(
            trades=f"backtest://{bid}/trades",
            equity=f"backtest://{bid}/equity",
            report=f"backtest://{bid}/report",
        ),
        notes=_notes(stored),
    )


def _notes(stored: StoredBacktest) -> list[str]:
    s = stored.summary
    notes = [*s.get("warnings", ()), *stored.notes]
    data_note = describe_data(s.get("source"), bool(s.get("synthetic"))).note
    if data_note:
        notes.append(data_note)
    n = s["metrics"].get("n_trades") or 0
    if n < 30:
        notes.append(f"Only {n} trades: Sharpe and win rate are not statistically meaningful.")
    if s.get("ended_open"):
        notes.append("A position was still open at the last bar (closed at the final close).")
    if s.get("time_gaps"):
        notes.append(f"{s['time_gaps']} time gap(s) in the data.")
    return notes


async def stored_recent(recording: Recording | None, limit: int = 30) -> list[RecentResult]:
    """The newest runs and optimisations in the catalog (any process's), for the web
    index; none when there is no catalog or it does not answer (the index still shows
    what memory holds)."""
    if recording is None:
        return []
    try:
        found = await recording.read(
            lambda c: (c.recent("runs", limit), c.recent("optimizations", limit))
        )
    except CatalogError:
        return []
    if found is None:
        return []
    runs, tables = found
    lines = [
        RecentResult("backtest", r["id"], _unix(r["created"]), _backtest_title(r),
                     {k: _json_value(dict(r.get("metrics") or {}).get(k)) for k in _RECENT_METRICS})
        for r in runs
    ]  # fmt: skip
    for t in tables:
        walk = t.get("kind") == "walk_forward"
        head = {"evaluated": t.get("evaluated"), "best_score": t.get("best_score"),
                "best_params": t.get("best_params")}  # fmt: skip
        title = f"walk-forward of {t.get('strategy')}" if walk else f"{t.get('kind')} search of {t.get('strategy')}"
        lines.append(RecentResult("walk_forward" if walk else "optimization", t["id"],
                                  _unix(t["created"]), title, head))  # fmt: skip
    return lines


def _unix(text: Any) -> float:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
