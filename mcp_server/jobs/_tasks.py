"""The tasks workers run. Each takes a job id (and a chunk), reads what to do from the
job store, loads candles by reference, checks the job's cancel flag at every progress
step, and writes its output under a deterministic key, so a rerun after a lost worker
overwrites instead of duplicating. Only references travel through the broker.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anyio
import httpx
import numpy as np
from celery import Celery, Task
from celery.exceptions import Ignore
from celery.signals import task_failure

import engine as E
import market as M
from engine.optimize import (
    SplitResult,
    assemble_walk_forward,
    merge_search,
    run_split,
    search_combos,
)
from mcp_server.errors import describe
from mcp_server.jobs._app import LIMITS, MAX_WORKER_LOST_RETRIES
from mcp_server.jobs._catalog import job_item, optimization_of, recording_for, worker_name
from mcp_server.jobs._requests import BacktestJob, BayesJob, SearchJob, WalkForwardJob
from mcp_server.jobs._runtime import JobRuntime, runtime_of
from mcp_server.jobs._store import JobRecord
from mcp_server.results import backtest_item
from mcp_server.tools._args import config_or_default
from mcp_server.tools.optimize import clean_json

__all__ = [
    "batch_key",
    "batch_stats_key",
    "chunk_key",
    "record_optimization",
    "register_tasks",
    "result_key",
]

log = logging.getLogger("mcp_server.jobs")
_PROGRESS_EVERY_S = 0.25


def chunk_key(job_id: str, chunk: int) -> str:
    return f"{job_id}:chunk:{chunk}"


def result_key(job_id: str) -> str:
    return f"{job_id}:result"


class _Cancelled(Exception):
    """The job's cancel flag was seen."""


def _begin(rt: JobRuntime, job_id: str, task: Task) -> JobRecord | None:
    """The job's record if it should run now; None when it is gone or already over.
    Marks it running and emits `started` (once) and `retry` (on a rerun)."""
    record = rt.store.get(job_id)
    if record is None:
        log.warning("job %s is unknown or expired; its task is dropped", job_id)
        return None
    if record.terminal:
        return None
    if rt.store.cancelled(job_id):
        raise _Cancelled
    req = task.request
    worker = {"worker": req.hostname or "", "pid": os.getpid()}
    redelivered = bool((req.delivery_info or {}).get("redelivered"))
    if req.retries or redelivered:
        rt.bus.emit(
            job_id, "retry", attempt=int(req.retries) + 1, redelivered=redelivered, **worker
        )
    if rt.store.once(job_id, "started"):
        record.state, record.started = "running", time.time()
        rt.store.put(record)
        rt.bus.emit(job_id, "started", **worker)
    # every chunk's start: the row keeps the highest attempt and the latest worker
    attempts = int(req.retries) + 1 + int(redelivered)
    rt.record(job_id, lambda: job_item(record, state="running", started=record.started or time.time(),
                                        worker=worker_name(req.hostname), attempts=attempts))  # fmt: skip
    return record


def _finish(
    rt: JobRuntime, job_id: str, state: str, result_id: str | None = None, **data: Any
) -> None:
    """The job's one terminal transition: record, catalog row and event, whoever gets here
    first. `result_id`: the run or optimisation the job made."""
    if not rt.store.once(job_id, "terminal"):
        return
    record = rt.store.get(job_id)
    if record is not None:
        record.state = state  # type: ignore[assignment]
        record.finished = time.time()
        record.error = data.get("error")
        rt.store.put(record)
        done = record
        rt.record(job_id, lambda: job_item(done, result_id=result_id))
    kind = {"succeeded": "succeeded", "failed": "failed", "cancelled": "cancelled"}[state]
    rt.bus.emit(job_id, kind, **data)  # type: ignore[arg-type]


def _progress(
    rt: JobRuntime, record: JobRecord, chunk: int, every_s: float = _PROGRESS_EVERY_S
) -> Callable[[int, int], None]:
    """A run_grid progress callback: the job's total over all chunks, throttled to one
    event per `every_s`."""
    last = [0.0]

    def report(done: int, _total: int) -> None:
        total_done = rt.store.chunk_progress(record.id, chunk, done)
        now = time.monotonic()
        if now - last[0] >= every_s or total_done >= record.total:
            last[0] = now
            # Chunks run on several threads and processes: one may read 2 and another 4 and
            # emit 4 first; the bus drops the late 2, so the job's progress never goes back.
            rt.bus.emit(record.id, "progress", done=total_done, total=record.total)

    return report


def _guarded(task: Task, job_id: str, body: Callable[[JobRuntime, JobRecord], Any]) -> Any:
    rt = runtime_of(task.app)
    try:
        record = _begin(rt, job_id, task)
        if record is None:
            return None
        return body(rt, record)
    except _Cancelled:
        _finish(rt, job_id, "cancelled")
        raise Ignore() from None


def run_backtest_job(task: Task, job_id: str) -> dict[str, Any] | None:
    def body(rt: JobRuntime, record: JobRecord) -> dict[str, Any]:
        job = BacktestJob.model_validate(record.request)
        data = rt.load(job.data, job.fingerprint, record.id)
        if rt.store.cancelled(job_id):
            raise _Cancelled
        config = config_or_default(job.run.config)
        result = E.backtest(data.candles, job.run.strategy, job.run.params, config)
        summary = clean_json({**result.summary(), "metrics": dict(result.metrics)})
        rt.store.put_blob(result_key(job_id), json.dumps(summary).encode())
        # the run as the server would record it: its id, key, request and summary
        item = backtest_item(data, result, config, "worker").model_copy(update={"job_id": job_id})
        rt.record(job_id, lambda: item)
        rt.bus.emit(job_id, "progress", done=1, total=1)
        _finish(rt, job_id, "succeeded", item.id, result=result_key(job_id))
        return {"result": result_key(job_id)}

    return _guarded(task, job_id, body)


def run_grid_chunk(
    task: Task, job_id: str, chunk: int, start: int, stop: int
) -> dict[str, Any] | None:
    def body(rt: JobRuntime, record: JobRecord) -> dict[str, Any]:
        job = SearchJob.model_validate(record.request)
        data = rt.load(job.data, job.fingerprint, record.id)
        space = job.search.space()
        combos = search_combos(space, job.method, n_samples=job.n_samples, seed=job.seed,
                                 allow_large=True)  # fmt: skip
        grid = E.run_grid(
            data.candles, space.strategy, combos[start:stop], job.search.config,
            progress=_progress(rt, record, chunk), should_stop=lambda: rt.store.cancelled(job_id),
            allow_large=True,
        )  # fmt: skip
        if grid.cancelled:
            raise _Cancelled
        buf = io.BytesIO()
        np.save(buf, grid.stats, allow_pickle=False)
        rt.store.put_blob(chunk_key(job_id, chunk), buf.getvalue())
        finished = rt.store.chunk_finished(job_id, chunk)
        rt.bus.emit(job_id, "chunk_done", chunk=chunk, rows=len(grid), finished=finished,
                    chunks=record.chunks)  # fmt: skip
        if finished >= record.chunks:
            _merge(rt, record, job, data.candles, space, combos)
        return {"chunk": chunk, "rows": len(grid), "ref": chunk_key(job_id, chunk)}

    return _guarded(task, job_id, body)


def _merge(rt: JobRuntime, record: JobRecord, job: SearchJob, candles: Any, space: Any,
           combos: list[dict[str, Any]]) -> None:  # fmt: skip
    """Every chunk is in: merge them in chunk order and store the ranked result."""
    if rt.store.cancelled(record.id):
        raise _Cancelled
    parts = []
    for chunk in range(record.chunks):
        raw = rt.store.get_blob(chunk_key(record.id, chunk))
        if raw is None:
            raise RuntimeError(f"chunk {chunk} of job {record.id} is missing from the job store")
        parts.append(np.load(io.BytesIO(raw), allow_pickle=False))
    s = job.search
    result = merge_search(
        candles, space, combos, parts, s.objective, s.config, method=job.method,
        min_trades=s.min_trades, n_samples=job.n_samples, seed=job.seed, overfit=job.overfit,
        n_blocks=job.n_blocks,
    )  # fmt: skip
    payload = {"summary": clean_json(result.summary(10)), "table": clean_json(result.table())}
    rt.store.put_blob(result_key(record.id), json.dumps(payload).encode())
    _finish(rt, record.id, "succeeded", record_optimization(rt, record, payload, candles.synthetic),
            result=result_key(record.id))  # fmt: skip


def record_optimization(rt: JobRuntime, record: JobRecord, payload: dict[str, Any],
                        synthetic: bool, role: str = "worker") -> str:  # fmt: skip
    """Record the optimisation a merged job made (`payload`: its stored result; `synthetic`:
    its candles were); its id."""
    item = optimization_of(record, payload, synthetic, role)
    rt.record(record.id, lambda: item)
    return item.id


def batch_key(job_id: str, batch: int) -> str:
    return f"{job_id}:batch:{batch}"


def batch_stats_key(job_id: str, batch: int) -> str:
    return f"{job_id}:batch:{batch}:stats"


def run_bayes_batch(task: Task, job_id: str, batch: int, half: bool) -> dict[str, Any] | None:
    """One batch of a Bayesian search's trials (the coordinator asked for them)."""

    def body(rt: JobRuntime, record: JobRecord) -> dict[str, Any]:
        job = BayesJob.model_validate(record.request)
        data = rt.load(job.data, job.fingerprint, record.id)
        raw = rt.store.get_blob(batch_key(job_id, batch))
        if raw is None:
            raise RuntimeError(f"batch {batch} of job {job_id} is missing from the job store")
        candles = data.candles.slice(0, len(data.candles) // 2) if half else data.candles
        grid = E.run_grid(candles, job.search.space().strategy, json.loads(raw), job.search.config,
                          should_stop=lambda: rt.store.cancelled(job_id), allow_large=True)  # fmt: skip
        if grid.cancelled:
            raise _Cancelled
        buf = io.BytesIO()
        np.save(buf, grid.stats, allow_pickle=False)
        rt.store.put_blob(batch_stats_key(job_id, batch), buf.getvalue())
        rt.bus.emit(job_id, "chunk_done", chunk=batch, rows=len(grid), half=half)
        return {"batch": batch, "ref": batch_stats_key(job_id, batch)}

    return _guarded(task, job_id, body)


def fold_key(job_id: str, fold: int) -> str:
    return f"{job_id}:fold:{fold}"


def run_walk_fold(task: Task, job_id: str, fold: int) -> dict[str, Any] | None:
    def body(rt: JobRuntime, record: JobRecord) -> dict[str, Any]:
        job = WalkForwardJob.model_validate(record.request)
        data = rt.load(job.data, job.fingerprint, record.id)
        run, splits, trials = job.plan(data.candles)
        run = replace(run, should_stop=lambda: rt.store.cancelled(job_id))
        split = run_split(data.candles, run, splits[fold], trials, len(splits), None, None)
        if split is None:
            raise _Cancelled
        rt.store.put_blob(
            fold_key(job_id, fold), json.dumps(_split_json(split), default=float).encode()
        )
        finished = rt.store.chunk_finished(job_id, fold)
        done = rt.store.chunk_progress(job_id, fold, 1)
        rt.bus.emit(job_id, "progress", done=done, total=record.total)
        rt.bus.emit(job_id, "chunk_done", chunk=fold, finished=finished, chunks=record.chunks)
        if finished >= record.chunks:
            _merge_walk(rt, record, job, data.candles, run, splits)
        return {"fold": fold, "ref": fold_key(job_id, fold)}

    return _guarded(task, job_id, body)


def _split_json(split: Any) -> dict[str, Any]:
    return {"params": split.params, "is_score": split.is_score, "is_metrics": split.is_metrics,
            "oos_metrics": split.oos_metrics, "note": split.note,
            "oos_equity": [float(x) for x in split.oos_equity]}  # fmt: skip


def _merge_walk(rt: JobRuntime, record: JobRecord, job: WalkForwardJob, candles: Any, run: Any,
                splits: list[Any]) -> None:  # fmt: skip
    """Every split is in: assemble them in split order and store the result."""
    if rt.store.cancelled(record.id):
        raise _Cancelled
    results = []
    for sp in splits:
        raw = rt.store.get_blob(fold_key(record.id, sp.index))
        if raw is None:
            raise RuntimeError(f"split {sp.index} of job {record.id} is missing from the job store")
        d = json.loads(raw)
        results.append(SplitResult(sp, d["params"], d["is_score"], d["is_metrics"], d["oos_metrics"],
                                   None, np.array(d["oos_equity"], dtype=float), d["note"]))  # fmt: skip
    result = assemble_walk_forward(candles, run, job.mode, results, len(splits))
    payload = {"summary": clean_json(result.summary())}
    rt.store.put_blob(result_key(record.id), json.dumps(payload).encode())
    _finish(rt, record.id, "succeeded", record_optimization(rt, record, payload, candles.synthetic),
            result=result_key(record.id))  # fmt: skip


class _ProgressOnly:
    """The bus as `run_backfill` sees it inside a job: its progress reaches the job's
    stream; its own start and end events do not (the job emits those, once)."""

    def __init__(self, bus: Any) -> None:
        self._bus = bus

    def emit(self, job_id: str, kind: str, **data: Any) -> str:
        return str(self._bus.emit(job_id, kind, **data)) if kind == "progress" else ""

    def read(self, *args: Any, **kwargs: Any) -> Any:
        return self._bus.read(*args, **kwargs)

    def close(self) -> None:
        return None


def run_backfill_job(task: Task, job_id: str) -> dict[str, Any] | None:
    from mcp_server.backfill import BackfillRequest, run_backfill, run_history
    from mcp_server.context import AppContext

    def body(rt: JobRuntime, record: JobRecord) -> dict[str, Any]:
        raw = dict(record.request)
        base_url = raw.pop("base_url", None)  # the submitting server's exchange, if it set one
        window = raw.pop("history", None)  # fetch_history's job: its exact window, its answer
        request = BackfillRequest.model_validate(raw)
        settings = rt.settings_for(job_id)  # embedded: the submitting server's data dir
        context = AppContext(settings, local=True, events=_ProgressOnly(rt.bus))

        def check() -> None:
            if rt.store.cancelled(job_id):
                raise _Cancelled

        async def fetch() -> dict[str, Any]:
            try:
                recording = recording_for(settings)  # the process's, not a recorder per task
                if window is not None:
                    return await run_history(context, request, window["start"], window["end"],
                                             job_id, base_url=base_url, check=check,
                                             recording=recording)  # fmt: skip
                done = await run_backfill(context, request, job_id, base_url=base_url,
                                          recording=recording)  # fmt: skip
                return done.model_dump(mode="json")
            finally:
                await context.aclose()

        result = anyio.run(fetch)
        rt.store.put_blob(result_key(job_id), json.dumps(result).encode())
        _finish(rt, job_id, "succeeded", job_id, result=result_key(job_id))  # its audit row's id
        return {"result": result_key(job_id)}

    return _guarded(task, job_id, body)


def register_tasks(app: Celery) -> None:
    """Define the job tasks on `app` (names are routed to queues by `_app.ROUTES`)."""

    def limits(queue: str) -> dict[str, Any]:
        lim = LIMITS[queue]
        return {"soft_time_limit": lim.soft, "time_limit": lim.hard,
                "max_retries": MAX_WORKER_LOST_RETRIES, "bind": True, "shared": False}  # fmt: skip

    @app.task(name="bst.jobs.backtest", **limits("backtest"))
    def backtest(self: Task, job_id: str) -> dict[str, Any] | None:
        return run_backtest_job(self, job_id)

    @app.task(name="bst.jobs.bayes_batch", **limits("optimizations.bayes"))
    def bayes_batch(self: Task, job_id: str, batch: int, half: bool) -> dict[str, Any] | None:
        return run_bayes_batch(self, job_id, batch, half)

    @app.task(name="bst.jobs.walk_fold", **limits("optimizations.walk"))
    def walk_fold(self: Task, job_id: str, fold: int) -> dict[str, Any] | None:
        return run_walk_fold(self, job_id, fold)

    # exchange hiccups only (rate limits, outages, timeouts, broken connections): never a
    # ban or a bad request, which another try cannot fix
    @app.task(name="bst.jobs.backfill_fetch", **{**limits("backfill"), "max_retries": 5},
              autoretry_for=(M.RetryableExchangeError, httpx.TransportError), retry_backoff=True,
              retry_backoff_max=300, retry_jitter=True)  # fmt: skip
    def backfill_fetch(self: Task, job_id: str) -> dict[str, Any] | None:
        return run_backfill_job(self, job_id)

    @app.task(name="bst.jobs.grid_chunk", **limits("optimizations.grid"))
    def grid_chunk(
        self: Task, job_id: str, chunk: int, start: int, stop: int
    ) -> dict[str, Any] | None:
        return run_grid_chunk(self, job_id, chunk, start, stop)


@task_failure.connect
def _on_failure(sender: Task | None = None, exception: BaseException | None = None,
                args: Any = None, **_: Any) -> None:  # fmt: skip
    """A job task failed for good (an error, a hard time limit, or its worker lost more
    often than allowed): the job fails, with the reason. Runs wherever Celery decides it
    (the pool child, or the worker's main process for a lost child)."""
    if sender is None or not str(getattr(sender, "name", "")).startswith("bst.jobs.") or not args:
        return
    job_id = str(args[0])
    text = describe(exception) if exception is not None else "unknown error"
    try:
        _finish(runtime_of(sender.app), job_id, "failed", error=text)
    except Exception:  # the failure is already logged by Celery; this is bookkeeping
        log.warning("could not record the failure of job %s", job_id, exc_info=True)
