"""`AppContext`: everything the surfaces share, built once per process from the settings.

The MCP server's lifespan yields it (tools read it from their `Context`), the
HTTP app holds the same object, and CLI commands open one with `open_context`.
Construction does no I/O; the exchange client and the router are created on
first use and closed by `aclose`. The lifespan may be entered several times
(each in-memory client enters it), hence the user count.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx

import market as M
from agents import MCPRouter
from mcp_server._opt_tables import OptimizationTables
from mcp_server._recording import Recording
from mcp_server.cache import AgentsCache, ResultCache, make_cache
from mcp_server.candles import CandleSource
from mcp_server.events import EventBus, MemoryEventBus
from mcp_server.live import LiveService
from mcp_server.results import BacktestResults
from mcp_server.settings import Settings
from mcp_server.telemetry import Telemetry

if TYPE_CHECKING:
    from mcp_server.catalog import CatalogRecorder
    from mcp_server.jobs import JobService

__all__ = ["AppContext", "open_context"]

log = logging.getLogger("mcp_server.context")


class AppContext:
    """Settings, telemetry, cache, candle source, backtest and optimisation results, market
    data and router."""

    def __init__(
        self,
        settings: Settings,
        *,
        market: M.MarketData | None = None,
        file_root: Path | None = None,
        local: bool = False,
        events: EventBus | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.telemetry = Telemetry()
        # One engine lane: numba's parallel kernels are not safe to enter from two
        # threads at once, and with few cores queueing beats oversubscription.
        self.engine_lane = None if local else anyio.CapacityLimiter(1)
        self.cache: ResultCache = make_cache(settings.server.cache_url, settings.server.cache_ttl)
        self.store = M.CandleStore(settings.server.data_dir)
        self.candles = CandleSource(
            self.store,
            max_bars=None if local else settings.server.max_bars,
            file_root=file_root,
            engine_lane=self.engine_lane,
        )
        # results are recorded in the catalog by whoever computed them: here, the server
        # (or the CLI); the recorder is opened on the first record, not now
        self.recording = Recording(lambda: self.catalog, role="cli" if local else "server", warn=warn)
        self.results = BacktestResults(
            self.candles,
            self.cache,
            self.telemetry,
            slots=settings.server.result_slots,
            engine_lane=self.engine_lane,
            recording=self.recording,
        )
        self.optimizations = OptimizationTables(recording=self.recording, redraw=_table_heatmap)
        self._market = market
        # a MarketData the caller built (its own client or store): work that must use it runs
        # here, never as a job (a worker builds its own from the settings)
        self.market_given = market is not None
        self._http: httpx.AsyncClient | None = None
        self._router: MCPRouter | None = None
        self._events: EventBus | None = events
        self._jobs: JobService | None = None
        self._catalog: CatalogRecorder | None = None
        self._users = 0
        self.live = LiveService(
            settings.live, self.store, self.telemetry, settings.server.cache_url
        )

    # -- shared services, created on first use ----------------------------------------
    def market(self) -> M.MarketData:
        """The local store plus the Bybit client (for what the store is missing)."""
        if self._market is None:
            base = self.settings.server.bybit_base_url
            config = M.ClientConfig(base_url=base) if base else M.ClientConfig()
            self._http = httpx.AsyncClient()
            client = M.BybitClient(self._http, config)
            self._market = M.MarketData(self.store, client, self.cache.backend)
        return self._market

    @property
    def router(self) -> MCPRouter:
        """The agents router (the local analyst answers when no key is configured)."""
        if self._router is None:
            self._router = MCPRouter(
                self.settings.router.to_router_config(), cache=AgentsCache(self.cache.backend)
            )
        return self._router

    def events(self) -> EventBus:
        """The job-event bus BST_EVENTS_URL names (in-process when empty). Creating it does
        no I/O: a Redis that is down shows up on the first emit or read."""
        if self._events is None:
            from mcp_server.jobs._urls import (
                job_event_bus,  # jobs import the tools, which import us
            )

            # the jobs' rule: with BST_EVENTS_URL empty, a Redis broker's Redis carries events
            self._events = job_event_bus(self.settings)
        return self._events

    @property
    def catalog(self) -> CatalogRecorder:
        """The results catalog (DATABASE_URL, else SQLite in the data dir), behind the
        recorder that spools what the database refuses. Creating it does no I/O; a bad
        DATABASE_URL raises CatalogConfigError here."""
        if self._catalog is None:
            from mcp_server.catalog import open_recorder

            self._catalog = open_recorder(self.settings, self.telemetry)
        return self._catalog

    @property
    def jobs(self) -> JobService:
        """Jobs (Celery; an in-process worker thread when no broker is configured)."""
        if self._jobs is None:
            from mcp_server.jobs import JobService

            self._jobs = JobService(self.settings, self.events())
        return self._jobs

    # -- lifecycle --------------------------------------------------------------------
    async def enter(self) -> None:
        self._users += 1

    async def exit(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users == 0:
            await self.aclose()

    async def aclose(self) -> None:
        """Close network clients; they are created again on next use."""
        if self._jobs is not None:
            await anyio.to_thread.run_sync(self._jobs.close)
        if self._catalog is not None:
            catalog, self._catalog = self._catalog, None
            await anyio.to_thread.run_sync(catalog.close)
        # The in-process bus is kept: its events are this process's only record of its jobs.
        if self._events is not None and not isinstance(self._events, MemoryEventBus):
            events, self._events = self._events, None
            await anyio.to_thread.run_sync(events.close)
        if self._router is not None:
            router, self._router = self._router, None
            await router.aclose()
        if self._http is not None:
            http, self._http = self._http, None
            self._market = None
            try:
                await http.aclose()
            except Exception:  # closing is best effort
                log.warning("closing the exchange client failed", exc_info=True)


@asynccontextmanager
async def open_context(settings: Settings | None = None) -> AsyncIterator[AppContext]:
    """A context for one CLI command: the user's own machine, so files anywhere and no bar
    limit, and no engine lane (one caller). A catalog that cannot take the results is
    said in one line on stderr; the command goes on."""
    context = AppContext(settings or Settings(), local=True, warn=_stderr_line)
    try:
        yield context
    finally:
        await context.aclose()
        await context.cache.aclose()


def _table_heatmap(table: dict[str, Any]) -> Callable[[], bytes] | None:
    from mcp_server.tools.optimize import table_heatmap  # the tools import this module

    return table_heatmap(table)


def _stderr_line(text: str) -> None:
    # the CLI's stdout is its result (tests and scripts parse it): warnings go to stderr
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
