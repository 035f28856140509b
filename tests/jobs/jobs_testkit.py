"""Helpers of the job tests: wait for a job by blocking on its events, load test data."""

from __future__ import annotations

import time
from typing import Any

import anyio
from mcp import Client

from mcp_server.candles import CandleSource, DataSet, DataSpec
from mcp_server.jobs import JobRecord, JobService


def wait_terminal(service: JobService, job_id: str, timeout: float = 90.0) -> JobRecord:
    """Block on the job's events (no polling loop) until it is over; its record."""
    deadline = time.monotonic() + timeout
    after = "0"
    while time.monotonic() < deadline:
        record = service.get(job_id)
        if record.terminal:
            return record
        events = service.events(job_id, after, block_s=1.0)
        if events:
            after = events[-1].id
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {service.get(job_id)}")


def wait_event(service: JobService, job_id: str, kind: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    after = "0"
    while time.monotonic() < deadline:
        for event in service.events(job_id, after, block_s=1.0):
            after = event.id
            if event.kind == kind:
                return
    raise AssertionError(f"job {job_id} emitted no {kind!r} in {timeout} s")


def load(source: CandleSource, **spec: object) -> DataSet:
    return anyio.run(source.load, DataSpec.model_validate(spec))


async def until_state(client: Client, job_id: str, *states: str) -> dict[str, Any]:
    """get_job (with its result) through the MCP client until the job is in one of `states`."""
    with anyio.fail_after(120):
        while True:
            got = await client.call_tool("get_job", {"job_id": job_id, "include_result": True})
            info = got.structured_content
            assert info is not None, got.content
            if info["state"] in states:
                return info
            await anyio.sleep(0.05)
