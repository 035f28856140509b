"""Shared state of one server: settings, caches, the data source, the router, market access.

Built once per `build_server()` (no I/O at construction); network clients are
opened lazily and closed when the last lifespan exits. The lifespan may be
entered several times (each in-memory client enters it), hence the refcount.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio

from agents import MCPRouter
from mcp_server.agents_cache import AgentsCacheOnMarket
from mcp_server.backtests import BacktestService
from mcp_server.cache import ResultCache, make_cache
from mcp_server.data import DataSource
from mcp_server.metrics import ServerMetrics
from mcp_server.settings import Settings

__all__ = ["AppState"]

log = logging.getLogger("mcp_server.state")


class AppState:
    """Everything tools, resources and HTTP routes share."""

    def __init__(self, settings: Settings, *, market: Any | None = None) -> None:
        self.settings = settings
        self.metrics = ServerMetrics()
        # One engine lane: numba's parallel kernels are not safe to enter from two
        # threads at once, and with few cores queueing beats oversubscription.
        self.engine_lane = anyio.CapacityLimiter(1)
        self.cache: ResultCache = make_cache(settings.server.cache_url, settings.server.cache_ttl)
        self._market = market
        self._market_owned: list[Any] = []
        self.data = DataSource(
            market=self.market, max_bars=settings.server.max_bars, engine_lane=self.engine_lane
        )
        self.backtests = BacktestService(
            self.data,
            self.cache,
            self.metrics,
            slots=settings.server.result_slots,
            engine_lane=self.engine_lane,
        )
        self._router: MCPRouter | None = None
        self._users = 0

    # -- lifecycle --------------------------------------------------------------------
    async def enter(self) -> None:
        self._users += 1

    async def exit(self) -> None:
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            await self.aclose()

    async def aclose(self) -> None:
        """Close network clients (they are re-created on next use)."""
        if self._router is not None:
            router, self._router = self._router, None
            await router.aclose()
        for closeable in reversed(self._market_owned):
            try:
                await closeable.aclose()
            except Exception:  # closing is best effort
                log.warning("closing %s failed", type(closeable).__name__, exc_info=True)
        if self._market_owned:
            self._market_owned.clear()
            self._market = None

    # -- router -----------------------------------------------------------------------
    @property
    def router(self) -> MCPRouter:
        """The agents router (local analyst when no key is configured)."""
        if self._router is None:
            self._router = MCPRouter(
                self.settings.router.to_router_config(),
                cache=AgentsCacheOnMarket(self.cache.backend),
            )
        return self._router

    # -- market -----------------------------------------------------------------------
    def market(self) -> Any:
        """`market.MarketData` over the local store and the Bybit client, created on first use."""
        if self._market is None:
            import httpx

            import market as M
            from market.service import MarketData
            from market.store import CandleStore

            http = httpx.AsyncClient()
            base = self.settings.server.bybit_base_url
            config = M.ClientConfig(base_url=base) if base else M.ClientConfig()
            client = M.BybitClient(http, config)
            store = CandleStore(self.settings.server.data_dir)
            self._market = MarketData(store, client, self.cache.backend)
            self._market_owned.append(http)
        return self._market
