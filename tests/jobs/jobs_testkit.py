"""Helpers of the job tests: real worker processes, wait for a job by blocking on its
events, load test data."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from mcp_server.candles import CandleSource, DataSet, DataSpec
from mcp_server.jobs import JobRecord, JobService


class Workers:
    """`bybit-tester worker` subprocesses (prefork) on a loopback Redis; killed by pid."""

    def __init__(self, env: dict[str, str], logs: Path, service: JobService) -> None:
        self.env, self.logs, self.service = env, logs, service
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_server.cli", "worker", "-n", f"{name}@%h", "-c", "1",
             "-l", "INFO", "--include", "jobs_poison", *extra],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replies = self.service.app().control.ping(timeout=0.5) or []
            if any(node.startswith(f"{name}@") for reply in replies for node in reply):
                return proc
            if proc.poll() is not None:
                break
        raise AssertionError(f"worker {name} did not come up:\n{self.log(name)[-3000:]}")

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole worker (main process and pool children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)


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
