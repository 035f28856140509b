"""`JobService`: submit, inspect, cancel and read jobs, the same for every surface and
every broker. It owns the Celery app (created on first use) and, without a broker, the
embedded worker thread."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

import anyio
from celery import Celery
from kombu.exceptions import OperationalError

import market as M
from engine.optimize import DEFAULT_MAX_COMBOS, chunk_bounds, search_combos
from mcp_server.backfill import BackfillRequest
from mcp_server.candles import CandleSource, DataSet
from mcp_server.errors import BrokerUnavailableError, JobNotFoundError, JobStateError
from mcp_server.events import EventBus, JobEvent
from mcp_server.jobs._app import QUEUES, make_celery_app
from mcp_server.jobs._catalog import job_item, recording_for
from mcp_server.jobs._embedded import EmbeddedJobs
from mcp_server.jobs._requests import (
    BacktestJob,
    BayesJob,
    CompareJob,
    ScenariosJob,
    SearchJob,
    WalkForwardJob,
)
from mcp_server.jobs._runtime import JobRuntime, install_runtime, runtime_of
from mcp_server.jobs._store import JobKind, JobRecord, JobStore, RedisJobStore
from mcp_server.jobs._tasks import result_key
from mcp_server.jobs._urls import is_redis_url, result_url_for
from mcp_server.settings import Settings
from mcp_server.tools._args import SearchSpec, StrategySpec

__all__ = ["JobService"]

log = logging.getLogger("mcp_server.jobs")
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


class JobService:
    """Jobs of this deployment (see the module docstring)."""

    def __init__(self, settings: Settings, bus: EventBus) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._app: Celery | None = None
        self._store: JobStore | None = None
        # Without a broker: the process's one embedded runner (its bus is the one to read).
        self._embedded = EmbeddedJobs.get(settings, bus) if settings.jobs.embedded else None
        self.bus = self._embedded.runtime.bus if self._embedded is not None else bus

    @property
    def embedded(self) -> bool:
        return self._embedded is not None

    @property
    def mode(self) -> str:
        """embedded, redis or amqp: where jobs run."""
        if self.embedded:
            return "embedded"
        return "redis" if is_redis_url(self.settings.jobs.broker_url) else "amqp"

    # -- wiring -----------------------------------------------------------------------
    def app(self) -> Celery:
        """The Celery app; for the embedded mode its worker thread is running."""
        if self._embedded is not None:
            return self._embedded.started()
        with self._lock:
            if self._app is None:
                app = make_celery_app(self.settings.jobs)
                app.conf.update(
                    task_publish_retry_policy=_PUBLISH_RETRY, broker_connection_timeout=3
                )
                source = CandleSource(M.CandleStore(self.settings.server.data_dir), max_bars=None)
                install_runtime(app, JobRuntime(self.store(), self.bus, source, self.settings))
                self._app = app
            return self._app

    def store(self) -> JobStore:
        if self._embedded is not None:
            return self._embedded.runtime.store
        if self._store is None:
            url = result_url_for(self.settings.jobs)
            self._store = RedisJobStore.from_url(url, self.settings.jobs.job_ttl)
        return self._store

    def close(self) -> None:
        """Drop broker and store connections (created again on next use). The embedded
        runner is left running: it serves every context of this process until it exits."""
        with self._lock:
            self._app = None
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- submit -----------------------------------------------------------------------
    def submit_backtest(self, data: DataSet, run: StrategySpec) -> JobRecord:
        job = BacktestJob(
            data=BacktestJob.spec_of(data.spec), fingerprint=data.fingerprint, run=run
        )
        record = self._new("backtest", job.model_dump(mode="json"), total=1, chunks=1)
        self._send(record, [("bst.jobs.backtest", (record.id,))])
        return record

    def submit_search(
        self,
        data: DataSet,
        search: SearchSpec,
        *,
        method: JobKind = "grid",
        n_samples: int = 0,
        seed: int = 0,
        overfit: bool = True,
        chunks: int | None = None,
        max_combos: int | None = None,
    ) -> JobRecord:
        """A grid or random search split into `chunks` (BST_GRID_CHUNKS) tasks; a grid
        above `max_combos` (None: the engine's default) is refused."""
        if method not in ("grid", "random"):
            raise JobStateError(f"{method!r} is not a search; use grid or random")
        job = SearchJob(
            data=SearchJob.spec_of(data.spec), fingerprint=data.fingerprint, search=search,
            method=method, n_samples=n_samples, seed=seed, overfit=overfit, n_blocks=16,
        )  # fmt: skip
        # the combinations are checked here, so a bad space fails now and not on a worker
        combos = search_combos(search.space(), method, n_samples=n_samples, seed=seed,
                               max_combos=max_combos or DEFAULT_MAX_COMBOS)  # fmt: skip
        bounds = chunk_bounds(len(combos), chunks or self.settings.jobs.grid_chunks)
        record = self._new(
            method, job.model_dump(mode="json"), total=len(combos), chunks=len(bounds)
        )
        calls = [("bst.jobs.grid_chunk", (record.id, i, a, b)) for i, (a, b) in enumerate(bounds)]
        self._send(record, calls)
        return record

    def submit_walk_forward(self, data: DataSet, search: SearchSpec, **split: Any) -> JobRecord:
        """A walk-forward optimisation, one task per split; `split`: n_splits, mode,
        train_bars, test_bars, ratio (checked here, with the warm-up, before queueing)."""
        job = WalkForwardJob(data=WalkForwardJob.spec_of(data.spec), fingerprint=data.fingerprint,
                             search=search, **split)  # fmt: skip
        _, splits, _ = job.plan(data.candles)
        record = self._new("walk_forward", job.model_dump(mode="json"), total=len(splits),
                           chunks=len(splits))  # fmt: skip
        self._send(record, [("bst.jobs.walk_fold", (record.id, i)) for i in range(len(splits))])
        return record

    def submit_bayes(self, data: DataSet, search: SearchSpec, **options: Any) -> JobRecord:
        """A Bayesian search: the sampler runs in a thread of this process, its trial
        batches on the workers (`options`: n_trials, seed, prune, batch_size, overfit)."""
        from mcp_server.jobs._bayes import start_coordinator

        job = BayesJob(data=BayesJob.spec_of(data.spec), fingerprint=data.fingerprint,
                       search=search, **options)  # fmt: skip
        search_combos(search.space(), "random", n_samples=1, seed=job.seed)  # infeasible: now
        record = self._new("bayes", job.model_dump(mode="json"), total=job.n_trials, chunks=0)
        self._send(record, [])
        app = self.app()

        def send(name: str, args: tuple[Any, ...], task_id: str) -> None:
            app.send_task(name, args=args, task_id=task_id, retry=True, retry_policy=_PUBLISH_RETRY)

        start_coordinator(runtime_of(app), send, record.id, data, job)
        return record

    def submit_backfill(
        self, request: BackfillRequest, *, base_url: str | None = None,
        window: tuple[int, int] | None = None,
    ) -> JobRecord:  # fmt: skip
        """Fetch a symbol's candles into the workers' store on the `backfill` queue
        (exchange hiccups are retried with backoff, up to 5 times). `base_url`: the
        exchange to fetch from (default: the worker's BST_BYBIT_BASE_URL). `window`:
        fetch_history's exact (start, end) in ms; the job then answers as that tool (an
        exchange error ends the fill and is reported, not retried: calling again resumes)."""
        job = request.model_dump(mode="json") | ({"base_url": base_url} if base_url else {})
        if window is not None:
            job["history"] = {"start": window[0], "end": window[1]}
        record = self._new("backfill", job, total=0, chunks=1)
        self._send(record, [("bst.jobs.backfill_fetch", (record.id,))])
        return record

    def submit_scenarios(self, data: DataSet, **job: Any) -> JobRecord:
        """The analyst's stress scenarios of a backtest, one task on the `backtest` queue
        (`job`: the `ScenariosJob` fields but the data)."""
        spec = ScenariosJob(
            data=ScenariosJob.spec_of(data.spec), fingerprint=data.fingerprint, **job
        )
        total = max(1, len(spec.scenarios))
        record = self._new("scenarios", spec.model_dump(mode="json"), total=total, chunks=1)
        self._send(record, [("bst.jobs.scenarios", (record.id,))])
        return record

    def submit_compare(self, data: DataSet, candidates: list[dict[str, Any]],
                       answer: dict[str, Any], *, chunks: int | None = None) -> JobRecord:  # fmt: skip
        """Backtests of `candidates` (strategy, params, config) split into `chunks`
        (BST_GRID_CHUNKS) tasks on the `backtest` queue, merged in candidate order."""
        job = CompareJob(data=CompareJob.spec_of(data.spec), fingerprint=data.fingerprint,
                         candidates=candidates, answer=answer)  # fmt: skip
        bounds = chunk_bounds(len(candidates), chunks or self.settings.jobs.grid_chunks)
        record = self._new("compare", job.model_dump(mode="json"), total=len(candidates),
                           chunks=len(bounds))  # fmt: skip
        calls = [
            ("bst.jobs.compare_chunk", (record.id, i, a, b)) for i, (a, b) in enumerate(bounds)
        ]
        self._send(record, calls)
        return record

    def _new(self, kind: JobKind, request: dict[str, Any], *, total: int, chunks: int) -> JobRecord:
        record = JobRecord(
            id=uuid.uuid4().hex, kind=kind, request=request, total=total, chunks=chunks
        )
        if self._embedded is not None:  # its tasks use this server's data dir and exchange
            self._embedded.runtime.own(record.id, self.settings)
        self.store().put(record)
        self._record(record)
        return record

    def _record(self, record: JobRecord) -> None:
        """The job's row in the catalog as of now (never raises: the recorder spools)."""
        recording_for(self.settings).record_now(lambda: job_item(record))

    def _send(self, record: JobRecord, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        app = self.app()
        self.bus.emit(
            record.id, "queued", job_kind=record.kind, total=record.total, chunks=record.chunks
        )
        try:
            for k, (name, args) in enumerate(calls):
                app.send_task(name, args=args, task_id=f"{record.id}-{k}", retry=True,
                              retry_policy=_PUBLISH_RETRY)  # fmt: skip
        except OperationalError as exc:
            self.store().cancel(record.id)  # chunks already queued must not run alone
            record.state, record.error = "failed", f"the broker did not accept the job: {exc}"
            record.finished = time.time()
            self.store().put(record)
            self._record(record)
            self.bus.emit(record.id, "failed", error=record.error)
            raise BrokerUnavailableError(
                f"the job broker at {_where(self.settings.jobs.broker_url)} does not answer ({exc})"
            ) from exc

    # -- read -------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        record = self.store().get(job_id)
        if record is None:
            raise JobNotFoundError(f"no job {job_id!r} (unknown, or older than BST_JOB_TTL)")
        return self._with_progress(record)

    def recent(self, limit: int = 50) -> list[JobRecord]:
        """The newest jobs first."""
        return [self._with_progress(r) for r in self.store().list(limit)]

    def _with_progress(self, record: JobRecord) -> JobRecord:
        record.done = record.total if record.state == "succeeded" else self.store().done(record.id)
        return record

    def cancel(self, job_id: str) -> JobRecord:
        """Set the job's cancel flag: every chunk stops at its next progress step, queued
        ones when they start. A job not started yet is cancelled at once."""
        record = self.get(job_id)
        if record.terminal:
            return record
        store = self.store()
        store.cancel(job_id)
        if record.state == "queued" and store.once(job_id, "terminal"):
            record.state, record.finished = "cancelled", time.time()
            store.put(record)
            self._record(record)
            self.bus.emit(job_id, "cancelled", before_start=True)
        return self.get(job_id)

    def result(self, job_id: str, kinds: tuple[JobKind, ...] | None = None) -> dict[str, Any]:
        """The stored result of a succeeded job (of one of `kinds`, when given)."""
        record = self.get(job_id)
        if kinds is not None and record.kind not in kinds:
            raise JobStateError(
                f"job {job_id} is a {record.kind} job, not {' or '.join(kinds)}; use its own route"
            )
        if record.state != "succeeded":
            why = {
                "queued": "it has not started yet; wait for it (its events say when)",
                "running": f"it is still running ({record.done_text()}); wait for it",
                "cancelled": "it was cancelled; submit it again",
                "failed": f"it failed: {record.error}",
            }[record.state]
            raise JobStateError(f"job {job_id} has no result: {why}")
        raw = self.store().get_blob(result_key(job_id))
        if raw is None:
            raise JobNotFoundError(f"the result of job {job_id} expired (BST_JOB_TTL)")
        out: dict[str, Any] = json.loads(raw)
        return out

    def events(self, job_id: str, after: str = "0", *, block_s: float = 0.0) -> list[JobEvent]:
        self.get(job_id)
        return self.bus.read(job_id, after, block_s=block_s)

    # -- health -----------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Broker and worker reachability, within a few seconds even when down."""
        out: dict[str, Any] = {"mode": self.mode, "queues": list(QUEUES)}
        if self.embedded:
            out["broker"] = "in-process"
            alive = self._embedded is not None and self._embedded.worker.alive
            out["workers"] = ["embedded"] if alive else []
            return out
        app = self.app()
        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            out["broker"] = "ok"
        except Exception as exc:  # health reports, never raises
            out["broker"] = f"unreachable: {exc}"
            out["workers"] = []
            out["note"] = "jobs cannot be queued; in-process tools and routes still work"
            return out
        replies = app.control.ping(timeout=1.0) or []
        out["workers"] = sorted(name for reply in replies for name in reply)
        return out

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting per queue ({} when embedded). A broker that is down raises
        within seconds (a scrape must never stall on it)."""
        if self.mode == "amqp":
            from mcp_server.jobs._depths import amqp_queue_depths

            return amqp_queue_depths(self.settings.jobs.broker_url, QUEUES)
        if self.mode != "redis":
            return {}
        import redis

        client = redis.Redis.from_url(
            self.settings.jobs.broker_url, socket_timeout=2, socket_connect_timeout=2
        )
        try:
            return {q: int(client.llen(q)) for q in QUEUES}
        finally:
            client.close()

    async def aget(self, job_id: str) -> JobRecord:
        return await anyio.to_thread.run_sync(self.get, job_id)


def _where(url: str) -> str:
    """The broker URL without credentials, for messages."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"
