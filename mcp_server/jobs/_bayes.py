"""Bayesian search as a job: optuna's sampler stays on the coordinator (a thread of the
process that submitted the job), each batch of trials runs on a worker
(`bst.jobs.bayes_batch`), and the coordinator tells the scores back in order. The asks and
tells are those of an in-process `optimize_bayes` with the same seed and batch size, so
the result is the same. The coordinator lives as long as its process (the server)."""

from __future__ import annotations

import io
import itertools
import json
import logging
import threading
import time
from typing import Any

import numpy as np

from engine.optimize import GridResult, grid_from_stats, optimize_bayes
from mcp_server.candles import DataSet
from mcp_server.errors import describe
from mcp_server.jobs._catalog import job_item, worker_name
from mcp_server.jobs._requests import BayesJob
from mcp_server.jobs._runtime import JobRuntime
from mcp_server.jobs._tasks import (
    _finish,
    batch_key,
    batch_stats_key,
    record_optimization,
    result_key,
)
from mcp_server.tools.optimize import clean_json

__all__ = ["start_coordinator"]

log = logging.getLogger("mcp_server.jobs")


class _Gone(Exception):
    """The job ended (failed, or expired) while a batch was out."""


def start_coordinator(rt: JobRuntime, send: Any, job_id: str, data: DataSet, job: BayesJob) -> None:
    """Run the job's sampler in a daemon thread; `send(name, args, task_id)` queues a task."""
    thread = threading.Thread(target=_coordinate, args=(rt, send, job_id, data, job),
                              name=f"bayes-{job_id[:8]}", daemon=True)  # fmt: skip
    thread.start()


def _coordinate(rt: JobRuntime, send: Any, job_id: str, data: DataSet, job: BayesJob) -> None:
    store, bus = rt.store, rt.bus
    record = store.get(job_id)
    if record is None or record.terminal:
        return
    if store.once(job_id, "started"):
        record.state, record.started = "running", time.time()
        store.put(record)
        bus.emit(job_id, "started", worker="coordinator")
        rt.record(
            job_id, lambda: job_item(record, worker="coordinator@" + worker_name(), attempts=1)
        )
    s = job.search
    space = s.space()
    batches = itertools.count()
    after = ["0"]

    def run_batch(combos: list[dict[str, Any]], half: bool) -> GridResult:
        k = next(batches)
        store.put_blob(batch_key(job_id, k), json.dumps(combos).encode())
        send("bst.jobs.bayes_batch", (job_id, k, half), f"{job_id}-b{k}")
        candles = data.candles.slice(0, len(data.candles) // 2) if half else data.candles
        while (raw := store.get_blob(batch_stats_key(job_id, k))) is None:
            current = store.get(job_id)
            if current is None or current.terminal:
                raise _Gone
            if store.cancelled(job_id):
                return grid_from_stats(candles, space.strategy, [], np.empty((0, 0)), s.config,
                                       cancelled=True)  # fmt: skip
            events = bus.read(job_id, after[0], block_s=1.0)  # wakes on the batch's chunk_done
            if events:
                after[0] = events[-1].id
        stats = np.load(io.BytesIO(raw), allow_pickle=False)
        return grid_from_stats(candles, space.strategy, combos, stats, s.config)

    def progress(done: int, total: int, phase: str) -> None:
        if phase == "search":
            store.chunk_progress(job_id, 0, done)
            bus.emit(job_id, "progress", done=done, total=total)

    try:
        result = optimize_bayes(
            data.candles, space, job.n_trials, s.objective, s.config, seed=job.seed,
            batch_size=job.batch_size, prune=job.prune, min_trades=s.min_trades,
            should_stop=lambda: store.cancelled(job_id), overfit=job.overfit,
            run_batch=run_batch, progress=progress,
        )  # fmt: skip
    except _Gone:
        return
    except Exception as exc:  # the job fails with the reason; the server goes on
        log.warning("bayes job %s failed", job_id, exc_info=True)
        _finish(rt, job_id, "failed", error=describe(exc))
        return
    if result.cancelled:
        _finish(rt, job_id, "cancelled")
        return
    payload = {"summary": clean_json(result.summary(10)), "table": clean_json(result.table())}
    store.put_blob(result_key(job_id), json.dumps(payload).encode())
    # the coordinator made it: this process records it (the server's own record collapses)
    oid = record_optimization(rt, store.get(job_id) or record, payload,
                              data.candles.synthetic, role="server")
    _finish(rt, job_id, "succeeded", oid, result=result_key(job_id))
