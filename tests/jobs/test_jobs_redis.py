"""Real `bybit-tester worker` processes (prefork) on a real redis-server: crashes are
survived without losing or duplicating results, poison tasks stop after bounded reruns,
cancellation reaches every chunk, and events arrive in order across processes."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest
import redis
from jobs_testkit import load, wait_event, wait_terminal

import engine as E
from mcp_server.jobs import JobService
from mcp_server.tools._args import SearchSpec
from mcp_server.tools.optimize import clean_json

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SEARCH = SearchSpec(params={"fast": "3:30:1", "slow": [40, 60, 90, 120]}, strategy="sma_cross")


def _in_process_table(candles, search: SearchSpec) -> list:  # type: ignore[no-untyped-def]
    whole = E.optimize_grid(candles, search.space(), "sharpe")
    return json.loads(json.dumps(clean_json(whole.table())))


def _started_pid(service: JobService, job_id: str) -> int:
    wait_event(service, job_id, "progress")
    started = [e for e in service.events(job_id) if e.kind == "started"]
    return int(started[0].data["pid"])


def test_a_killed_pool_child_reruns_and_the_job_succeeds(redis_jobs, source) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    workers.start("w1")
    data = load(source, bars=40_000, seed=21)
    record = service.submit_search(data, SEARCH, chunks=1)
    os.kill(_started_pid(service, record.id), signal.SIGKILL)  # the OOM-killer case
    done = wait_terminal(service, record.id, timeout=120)
    assert done.state == "succeeded", workers.log("w1")[-3000:]
    assert "retry" in [e.kind for e in service.events(record.id)]
    assert service.result(record.id)["table"] == _in_process_table(data.candles, SEARCH)


def test_a_sigkilled_worker_is_replaced_and_the_merged_grid_is_exact(redis_jobs, source) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    w1 = workers.start("w1")
    data = load(source, bars=30_000, seed=22)
    record = service.submit_search(data, SEARCH, chunks=6)
    wait_event(service, record.id, "chunk_done")  # mid-job: some chunks done, one running
    workers.kill(w1)
    assert not service.get(record.id).terminal
    workers.start("w2")
    done = wait_terminal(service, record.id, timeout=120)
    assert done.state == "succeeded", workers.log("w2")[-3000:]
    got = service.result(record.id)
    assert got["table"] == _in_process_table(data.candles, SEARCH)  # nothing lost or doubled
    assert len(got["table"]) == record.total
    kinds = [e.kind for e in service.events(record.id)]
    assert kinds.count("succeeded") == 1 and kinds.count("started") == 1


def test_a_poison_task_fails_after_bounded_reruns(redis_jobs, redis_url) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    workers.start("w1")
    counter = f"poison:{uuid.uuid4().hex}"
    result = service.app().send_task("bst.test.poison", args=[redis_url, counter])
    deadline = time.monotonic() + 120
    while result.state not in ("FAILURE", "SUCCESS") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert result.state == "FAILURE", workers.log("w1")[-3000:]
    assert "WorkerLostError" in type(result.result).__name__ + repr(result.result)
    runs = redis.Redis.from_url(redis_url).llen(counter)
    assert runs == 4, workers.log("w1")[-6000:]  # the first run and 3 reruns, then no more


def test_cancel_reaches_every_chunk_of_a_running_job(redis_jobs, source) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    workers.start("w1")
    data = load(source, bars=80_000, seed=23)
    big = SearchSpec(params={"fast": "2:60:1", "slow": "61:160:2"}, strategy="sma_cross")
    record = service.submit_search(data, big, chunks=4, overfit=False)
    wait_event(service, record.id, "progress")
    service.cancel(record.id)
    done = wait_terminal(service, record.id, timeout=120)
    assert done.state == "cancelled" and done.done < done.total
    time.sleep(1.0)  # queued chunks see the cancelled job and drop themselves
    kinds = [e.kind for e in service.events(record.id)]
    assert kinds.count("cancelled") == 1 and "succeeded" not in kinds
    assert kinds.count("chunk_done") < 4


def test_events_cross_processes_in_order_and_a_late_reader_resumes(redis_jobs, source) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    workers.start("w1")
    record = service.submit_search(load(source, bars=5000, seed=24), SEARCH, chunks=3)
    wait_terminal(service, record.id)
    events = service.events(record.id)
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "succeeded"
    assert kinds.count("chunk_done") == 3
    middle = events[len(events) // 2]
    assert [e.id for e in service.events(record.id, middle.id)] == [
        e.id for e in events[len(events) // 2 + 1 :]
    ]
    assert service.health()["workers"] == [
        n for n in service.health()["workers"] if n.startswith("w1@")
    ]


def test_bayes_batches_run_on_real_workers_and_match_in_process(redis_jobs, source) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    workers.start("w1")
    data = load(source, bars=8000, seed=25)
    search = SearchSpec(params={"fast": "3:40", "slow": "41:150"}, strategy="sma_cross")
    record = service.submit_bayes(data, search, n_trials=24, seed=4, batch_size=8, overfit=False)
    done = wait_terminal(service, record.id, timeout=120)
    assert done.state == "succeeded", done.error or workers.log("w1")[-3000:]
    whole = E.optimize_bayes(data.candles, search.space(), 24, seed=4, batch_size=8, overfit=False)
    assert service.result(record.id)["table"] == json.loads(json.dumps(clean_json(whole.table())))
