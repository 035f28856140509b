"""The embedded worker: Celery's own worker, on a thread pool inside this process, fed
by the `memory://` transport. Jobs then behave as with a broker (ids, states, progress,
cancellation) with nothing installed. It never writes to stdout (the MCP stdio channel).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from celery import Celery

import market as M
from mcp_server.candles import CandleSource
from mcp_server.errors import StartupError
from mcp_server.events import EventBus
from mcp_server.jobs._runtime import JobRuntime, install_runtime
from mcp_server.jobs._store import MemoryJobStore
from mcp_server.settings import JobsSettings, Settings

__all__ = ["EmbeddedJobs", "EmbeddedWorker"]

log = logging.getLogger("mcp_server.jobs")


class EmbeddedWorker:
    """One in-process worker (Celery keeps worker state in globals: one per process)."""

    def __init__(self, app: Celery, concurrency: int) -> None:
        self._app = app
        self._concurrency = concurrency
        self._worker: object | None = None
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.alive:
            return
        app = self._app
        # A worker built by hand needs the app finalized, current and the default (the
        # current app is per thread; pool threads fall back to the default one).
        app.finalize()
        app.set_current()
        app.set_default()
        # threads, not prefork: a fork of the server process would copy its event loop and
        # numba's OpenMP state; time limits are not enforced here, cancellation still works
        worker = app.WorkController(
            pool_cls="threads", concurrency=self._concurrency, without_heartbeat=True,
            without_mingle=True, without_gossip=True, hostname=f"embedded@{socket.gethostname()}",
            loglevel=logging.WARNING, quiet=True,
        )  # fmt: skip
        self._worker = worker
        self._thread = threading.Thread(target=worker.start, name="bst-jobs-embedded", daemon=True)
        self._thread.start()
        log.info("embedded job worker started (%d threads)", self._concurrency)

    def stop(self) -> None:
        worker, thread = self._worker, self._thread
        self._worker = self._thread = None
        if worker is not None:
            worker.stop(in_sighandler=False)  # type: ignore[attr-defined]
        if thread is not None:
            thread.join(timeout=10)


# The job settings the embedded runner is built from (its threads, its store's TTL, its
# Celery retry delay): a service asking for other values must not silently get the first's.
_RUNNER_SETTINGS = {"embedded_workers": "BST_EMBEDDED_WORKERS", "job_ttl": "BST_JOB_TTL",
                    "job_retry_delay": "BST_JOB_RETRY_DELAY"}  # fmt: skip


def _runner_settings(jobs: JobsSettings) -> dict[str, Any]:
    return {name: getattr(jobs, name) for name in _RUNNER_SETTINGS}


class EmbeddedJobs:
    """The process's one embedded job runner: app, runtime and worker thread, shared by
    every `JobService` without a broker in this process (memory:// queues are global to
    the process, so two runners would take each other's tasks). The first service's
    settings and event bus configure it; it lives as long as the process. A later service
    whose runner settings (`_RUNNER_SETTINGS`) differ gets a StartupError saying so."""

    _shared: EmbeddedJobs | None = None
    _lock = threading.Lock()

    def __init__(self, app: Celery, runtime: JobRuntime, concurrency: int) -> None:
        self.app = app
        self.runtime = runtime
        self.worker = EmbeddedWorker(app, concurrency)

    @classmethod
    def get(cls, settings: Settings, bus: EventBus) -> EmbeddedJobs:
        with cls._lock:
            if cls._shared is not None:
                cls._shared.check(settings.jobs)
            if cls._shared is None:
                from mcp_server.jobs._app import make_celery_app

                app = make_celery_app(settings.jobs)
                store = MemoryJobStore(settings.jobs.job_ttl)
                source = CandleSource(M.CandleStore(settings.server.data_dir), max_bars=None)
                runtime = JobRuntime(store, bus, source, settings)
                install_runtime(app, runtime)
                cls._shared = cls(app, runtime, settings.jobs.embedded_workers)
            return cls._shared

    def check(self, jobs: JobsSettings) -> None:
        """Refuse job settings other than the runner's (one embedded worker per process:
        Celery keeps worker state in process globals)."""
        mine, asked = _runner_settings(self.runtime.settings.jobs), _runner_settings(jobs)
        if asked == mine:
            return
        differ = ", ".join(f"{env}={asked[name]} (running: {mine[name]})"
                           for name, env in _RUNNER_SETTINGS.items() if asked[name] != mine[name])  # fmt: skip
        raise StartupError(
            f"this process already runs its embedded job worker with other settings: {differ}. "
            "A process has one embedded worker: give every server in it the same job settings, "
            "or set BST_BROKER_URL=redis://... and start `bybit-tester worker` processes"
        )

    def started(self) -> Celery:
        with self._lock:
            self.worker.start()
        return self.app
