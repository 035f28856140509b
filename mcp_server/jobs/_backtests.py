"""Tasks made of many backtests: the analyst's stress scenarios of one run, and a
comparison of strategy configurations split into chunks of candidates. Each backtest runs
as `BacktestResults` runs it in the server, and travels back as its request and summary,
so the server keeps it under the same id (`BacktestResults.adopt`); a comparison's
backtests are also recorded in the catalog here, with their trades."""

from __future__ import annotations

import json
from typing import Any

import anyio
from celery import Celery, Task

import engine as E
from mcp_server.cache import make_cache
from mcp_server.jobs._app import LIMITS, MAX_WORKER_LOST_RETRIES
from mcp_server.jobs._requests import CompareJob, ScenariosJob
from mcp_server.jobs._runtime import JobRuntime
from mcp_server.jobs._store import JobRecord
from mcp_server.jobs._tasks import _Cancelled, _finish, _guarded, _progress, chunk_key, result_key
from mcp_server.results import BacktestResults, StoredBacktest, cache_key
from mcp_server.telemetry import Telemetry
from mcp_server.tools.optimize import clean_json

__all__ = ["register_backtest_tasks"]


def _results(rt: JobRuntime) -> BacktestResults:
    """A task's own results: nothing cached across tasks, the engine on this thread."""
    return BacktestResults(rt.candles, make_cache("memory://", 0), Telemetry())


async def _exported(results: BacktestResults, ids: list[str]) -> list[dict[str, Any]]:
    """The request and summary of each backtest, in order (what the server adopts)."""
    out = []
    for bid in ids:
        stored = await results.get(bid, need_result=False)
        out.append(clean_json({"request": stored.request, "summary": stored.summary}))
    return out


def _record_run(
    rt: JobRuntime, job_id: str, stored: StoredBacktest, config: E.BacktestConfig
) -> None:
    """Record a backtest this task ran, with its trades, as the server records it (the
    same key: the server's adopt of it is a duplicate)."""
    from mcp_server.catalog import run_item

    req = stored.request
    key = cache_key(req["fingerprint"], req["strategy"], req["params"], config)
    rt.record(job_id, lambda: run_item(key, req, stored.summary, stored.result, role="worker",
                                       job_id=job_id))  # fmt: skip


def _store_result(rt: JobRuntime, job_id: str, payload: dict[str, Any]) -> None:
    rt.store.put_blob(result_key(job_id), json.dumps(payload).encode())
    _finish(rt, job_id, "succeeded", result=result_key(job_id))


def run_scenarios_job(task: Task, job_id: str) -> dict[str, Any] | None:
    from mcp_server.scenarios import run_scenarios

    def body(rt: JobRuntime, record: JobRecord) -> dict[str, Any]:
        job = ScenariosJob.model_validate(record.request)
        data = rt.load(job.data, job.fingerprint, record.id)
        results = _results(rt)

        async def step(done: float, total: float, _message: str) -> None:
            # a scenario is the unit of work: the cancel flag is read before each one
            if rt.store.cancelled(job_id):
                raise _Cancelled
            rt.store.chunk_progress(job_id, 0, int(done))
            rt.bus.emit(job_id, "progress", done=int(done), total=int(total))

        async def run() -> dict[str, Any]:
            runs = await run_scenarios(
                results, data, job.strategy, job.params, E.BacktestConfig.model_validate(job.config),
                job.scenarios, baseline=job.baseline, on_progress=step,
            )  # fmt: skip
            backtests = await _exported(results, [r.id for r in runs if r.id is not None])
            return {"runs": [r.model_dump(mode="json") for r in runs], "backtests": backtests}

        _store_result(rt, job_id, anyio.run(run))
        return {"result": result_key(job_id)}

    return _guarded(task, job_id, body)


def run_compare_chunk(
    task: Task, job_id: str, chunk: int, start: int, stop: int
) -> dict[str, Any] | None:
    def body(rt: JobRuntime, record: JobRecord) -> dict[str, Any]:
        job = CompareJob.model_validate(record.request)
        data = rt.load(job.data, job.fingerprint, record.id)
        results = _results(rt)
        report = _progress(rt, record, chunk, every_s=0.0)  # one event per candidate

        async def run() -> list[dict[str, Any]]:
            ids = []
            for i, cand in enumerate(job.candidates[start:stop]):
                if rt.store.cancelled(job_id):
                    raise _Cancelled
                config = E.BacktestConfig.model_validate(cand["config"])
                stored = await results.run(
                    data, cand["strategy"], cand["params"], config, chart=False
                )
                ids.append(stored.id)
                await anyio.to_thread.run_sync(_record_run, rt, job_id, stored, config)
                report(i + 1, stop - start)
            return await _exported(results, ids)

        rt.store.put_blob(chunk_key(job_id, chunk), json.dumps(anyio.run(run)).encode())
        finished = rt.store.chunk_finished(job_id, chunk)
        rt.bus.emit(job_id, "chunk_done", chunk=chunk, rows=stop - start, finished=finished,
                    chunks=record.chunks)  # fmt: skip
        if finished >= record.chunks:
            _merge_compare(rt, record)
        return {"chunk": chunk, "ref": chunk_key(job_id, chunk)}

    return _guarded(task, job_id, body)


def _merge_compare(rt: JobRuntime, record: JobRecord) -> None:
    """Every chunk is in: the candidates' backtests in candidate order."""
    if rt.store.cancelled(record.id):
        raise _Cancelled
    backtests: list[dict[str, Any]] = []
    for chunk in range(record.chunks):
        raw = rt.store.get_blob(chunk_key(record.id, chunk))
        if raw is None:
            raise RuntimeError(f"chunk {chunk} of job {record.id} is missing from the job store")
        backtests += json.loads(raw)
    _store_result(rt, record.id, {"backtests": backtests})


def register_backtest_tasks(app: Celery) -> None:
    """Define the scenario and comparison tasks on `app` (queue `backtest`)."""
    lim = LIMITS["backtest"]
    opts: dict[str, Any] = {"soft_time_limit": lim.soft, "time_limit": lim.hard,
                            "max_retries": MAX_WORKER_LOST_RETRIES, "bind": True, "shared": False}  # fmt: skip

    @app.task(name="bst.jobs.scenarios", **opts)
    def scenarios(self: Task, job_id: str) -> dict[str, Any] | None:
        return run_scenarios_job(self, job_id)

    @app.task(name="bst.jobs.compare_chunk", **opts)
    def compare_chunk(
        self: Task, job_id: str, chunk: int, start: int, stop: int
    ) -> dict[str, Any] | None:
        return run_compare_chunk(self, job_id, chunk, start, stop)
