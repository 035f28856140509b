"""Chunks of one job run in different worker processes: the job's progress events still
never go backwards (the bus drops a stale one atomically on Redis)."""

from __future__ import annotations

import pytest
from jobs_testkit import load, wait_terminal

from mcp_server.tools._args import SearchSpec

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SEARCH = SearchSpec(params={"fast": "2:60:1", "slow": "61:160:3"}, strategy="sma_cross")


def test_progress_of_chunks_on_two_workers_never_goes_backwards(redis_jobs, source) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    workers.start("w1")
    workers.start("w2")
    record = service.submit_search(
        load(source, bars=30_000, seed=9), SEARCH, chunks=8, overfit=False
    )
    done = wait_terminal(service, record.id, timeout=180)
    assert done.state == "succeeded", workers.log("w1")[-2000:]
    events = service.events(record.id)
    progress = [e.data["done"] for e in events if e.kind == "progress"]
    assert len(progress) >= 4 and progress == sorted(set(progress)), progress
    assert progress[-1] == record.total
    logs = workers.log("w1"), workers.log("w2")
    assert all("bst.jobs.grid_chunk" in log for log in logs)  # both processes ran chunks
