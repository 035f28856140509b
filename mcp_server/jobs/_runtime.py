"""What tasks need besides their arguments: the job store, the event bus, the candle
source and the results catalog. A worker process builds it from the settings on first use (after the pool has
forked, so no connection is shared across processes); the embedded worker is handed the
server's own."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from celery import Celery

import market as M
from mcp_server.candles import CandleSource, DataSet, DataSpec
from mcp_server.errors import JobStateError
from mcp_server.events import EventBus
from mcp_server.jobs._catalog import recording_for
from mcp_server.jobs._store import JobStore, MemoryJobStore, RedisJobStore
from mcp_server.jobs._urls import job_event_bus, result_url_for
from mcp_server.settings import Settings

if TYPE_CHECKING:
    from mcp_server.catalog import CatalogItem

__all__ = ["JobRuntime", "install_runtime", "runtime_of"]

log = logging.getLogger("mcp_server.jobs")
_OWNERS_LOCK = threading.Lock()
_OWNERS_KEPT = 4096


@dataclass
class JobRuntime:
    """The shared services every task of one process uses."""

    store: JobStore
    bus: EventBus
    candles: CandleSource
    settings: Settings
    # The embedded runner serves every server of its process: the settings of the server
    # that submitted each job (its data directory, its exchange), by job id.
    owners: OrderedDict[str, Settings] = field(default_factory=OrderedDict)

    @classmethod
    def from_settings(cls, settings: Settings) -> JobRuntime:
        url = "" if settings.jobs.embedded else result_url_for(settings.jobs)
        store: JobStore = (
            RedisJobStore.from_url(url, settings.jobs.job_ttl)
            if url
            else MemoryJobStore(settings.jobs.job_ttl)
        )
        bus = job_event_bus(settings)
        # The submitting surface checked bar limits and file locations already.
        source = CandleSource(M.CandleStore(settings.server.data_dir), max_bars=None)
        return cls(store, bus, source, settings)

    def own(self, job_id: str, settings: Settings) -> None:
        """Remember that `job_id` came from a server with these settings (embedded runner)."""
        with _OWNERS_LOCK:
            self.owners[job_id] = settings
            while len(self.owners) > _OWNERS_KEPT:
                self.owners.popitem(last=False)

    def settings_for(self, job_id: str) -> Settings:
        """The settings of the server that submitted `job_id` (this process's otherwise)."""
        with _OWNERS_LOCK:
            return self.owners.get(job_id, self.settings)

    def record(self, job_id: str, make: Callable[[], CatalogItem]) -> None:
        """Record `make()` in the catalog of the settings `job_id` runs under (one recorder
        per database per process, opened on first use). Never raises: a database that is
        down gets it later from the spool, and a job never fails for its record."""
        recording_for(self.settings_for(job_id)).record_now(make)

    def load(self, spec: DataSpec, fingerprint: str, job_id: str = "") -> DataSet:
        """The job's candles, loaded here by reference (from the store of the server that
        submitted `job_id`, for the embedded runner); refuses data that changed."""
        source = self.candles
        owner = self.settings_for(job_id).server.data_dir
        if owner != self.settings.server.data_dir:
            source = CandleSource(M.CandleStore(owner), max_bars=None)
        data = anyio.run(source.load, spec)
        if data.fingerprint != fingerprint:
            raise JobStateError(
                f"the candles of {spec.label()} changed since the job was submitted "
                f"(fingerprint {data.fingerprint[:12]} != {fingerprint[:12]}); submit it again"
            )
        return data

    def close(self) -> None:
        self.bus.close()
        self.store.close()


def install_runtime(app: Celery, runtime: JobRuntime) -> None:
    """Give `app`'s tasks this runtime (the embedded worker shares the server's)."""
    app.bst_runtime = runtime


def runtime_of(app: Celery) -> JobRuntime:
    """`app`'s runtime, built from the environment's settings the first time."""
    runtime: JobRuntime | None = getattr(app, "bst_runtime", None)
    if runtime is None:
        runtime = JobRuntime.from_settings(Settings())
        install_runtime(app, runtime)
    return runtime
