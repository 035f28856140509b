"""Running backtests for tools: cache lookup, engine run off the event loop, results kept for resources.

A backtest's id is derived from its cache key (data fingerprint, strategy,
resolved parameters, config), so the same request always gets the same id and a
cached summary survives eviction of the in-memory result: resources rebuild it
from the stored request when needed (the engine is deterministic).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio

import engine as E
from mcp_server.cache import ResultCache
from mcp_server.charts import render_chart
from mcp_server.data import DataSet, DataSource, DataSpec
from mcp_server.errors import ResultNotFoundError
from mcp_server.metrics import ServerMetrics

__all__ = ["HEADLINE_METRICS", "BacktestService", "StoredBacktest"]

log = logging.getLogger("mcp_server.backtests")

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


@dataclass
class StoredBacktest:
    """One backtest as the server keeps it: the summary always, the full result while in memory."""

    id: str
    spec: dict[str, Any]
    summary: dict[str, Any]
    result: E.BacktestResult | None = None
    chart_png: bytes | None = None
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _metric_value(v: Any) -> Any:
    if isinstance(v, float) and v != v:  # NaN is not JSON
        return None
    return v


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics a model needs to judge a run; the rest is in the report resource."""
    return {k: _metric_value(metrics.get(k)) for k in HEADLINE_METRICS if k in metrics}


class BacktestService:
    """Backtests with caching; results addressable by id for the `backtest://` resources."""

    def __init__(
        self,
        data: DataSource,
        cache: ResultCache,
        metrics: ServerMetrics,
        *,
        slots: int = 64,
        engine_lane: anyio.CapacityLimiter | None = None,
    ) -> None:
        self.data = data
        self.cache = cache
        self.metrics = metrics
        self._slots = slots
        self._results: OrderedDict[str, StoredBacktest] = OrderedDict()
        self._lock = threading.Lock()
        self._lane = engine_lane

    # -- ids and keys -------------------------------------------------------------------
    @staticmethod
    def cache_key(
        fingerprint: str, strategy: str, params: Mapping[str, Any], config: E.BacktestConfig
    ) -> str:
        """sha256 over the canonical JSON of everything that determines the result."""
        payload = json.dumps(
            {
                "data": fingerprint,
                "strategy": strategy,
                "params": dict(params),
                "config": config.model_dump(mode="json"),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def _remember(self, stored: StoredBacktest) -> None:
        with self._lock:
            self._results[stored.id] = stored
            self._results.move_to_end(stored.id)
            while len(self._results) > self._slots:
                self._results.popitem(last=False)
            self.metrics.results_in_memory.set(len(self._results))

    # -- running ------------------------------------------------------------------------
    async def run(
        self,
        spec: DataSpec,
        strategy: str,
        params: Mapping[str, Any] | None,
        config: E.BacktestConfig,
        *,
        chart: bool = True,
        dataset: DataSet | None = None,
    ) -> StoredBacktest:
        """Backtest `strategy` on the data of `spec` (cached by data fingerprint + inputs)."""
        strat = E.get_strategy(strategy)
        resolved = strat.resolve_params(params or {})
        data = dataset or await self.data.load(spec)
        key = self.cache_key(data.fingerprint, strat.name, resolved, config)
        bid = key[:16]
        with self._lock:
            mem = self._results.get(bid)
        if mem is not None and (mem.chart_png is not None or not chart):
            self.metrics.cache_requests.labels("backtest", "hit").inc()
            return StoredBacktest(**{**asdict_shallow(mem), "cached": True})
        hit = await self.cache.get_json("backtest", key)
        if hit is not None:
            png = await self.cache.get_bytes("backtest", key + ":png") if chart else None
            if png is not None or not chart:
                self.metrics.cache_requests.labels("backtest", "hit").inc()
                stored = StoredBacktest(
                    bid, hit["spec"], hit["summary"], chart_png=png, cached=True
                )
                self._remember(stored)
                return stored
        self.metrics.cache_requests.labels("backtest", "miss").inc()
        spec_dict = {
            "data": asdict(spec),
            "strategy": strat.name,
            "params": resolved,
            "config": config.model_dump(mode="json"),
        }

        def work() -> tuple[E.BacktestResult, bytes | None]:
            result = E.backtest(data.candles, strat, resolved, config)
            return result, (render_chart(result) if chart else None)

        result, png = await anyio.to_thread.run_sync(work, limiter=self._lane)
        summary = _summary(result, spec)
        stored = StoredBacktest(bid, spec_dict, summary, result=result, chart_png=png)
        self._remember(stored)
        await self.cache.set_json("backtest", key, {"spec": spec_dict, "summary": summary})
        if png is not None:
            await self.cache.set_bytes("backtest", key + ":png", png)
        return stored

    async def get(self, bid: str, *, need_result: bool = True) -> StoredBacktest:
        """The stored backtest `bid`; re-runs it from its request if only the summary survived."""
        with self._lock:
            stored = self._results.get(bid)
        if stored is None:
            raise ResultNotFoundError(f"no backtest with id {bid!r} on this server")
        if need_result and stored.result is None:
            spec = DataSpec(**stored.spec["data"])
            config = E.BacktestConfig(**stored.spec["config"])
            data = await self.data.load(spec)
            strat = E.get_strategy(stored.spec["strategy"])
            result = await anyio.to_thread.run_sync(
                lambda: E.backtest(data.candles, strat, stored.spec["params"], config),
                limiter=self._lane,
            )
            stored.result = result
        return stored

    def known_ids(self) -> list[str]:
        """Ids currently held, newest last."""
        with self._lock:
            return list(self._results)


def asdict_shallow(s: StoredBacktest) -> dict[str, Any]:
    """Fields of a StoredBacktest without deep-copying the arrays."""
    return {f: getattr(s, f) for f in s.__dataclass_fields__}


def _summary(result: E.BacktestResult, spec: DataSpec) -> dict[str, Any]:
    s = result.summary()
    s["metrics"] = {k: _metric_value(v) for k, v in result.metrics.items()}
    s["source"] = spec.source
    s["category"] = spec.category
    s["config"] = result.config
    return s
