"""fetch_history as a job: waiting follows the backfill job (on the embedded worker, or on
the workers of a broker), relays its progress events and answers as the in-process fill;
with wait=false get_job gives that answer; cancelling the job stops the fill; embedded
jobs use the submitting server's data directory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobs_testkit import until_state
from mcp import Client

import market as M
from mcp_server.cli.data import build_fake
from mcp_server.context import AppContext
from mcp_server.server import build_server
from mcp_server.settings import JobsSettings, ServerSettings, Settings

EMBEDDED = JobsSettings(broker_url="", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    server = M.ServerThread(build_fake(60).app).start()
    yield server.url
    server.stop()


def _settings(data_dir: Path, fake: str, jobs: JobsSettings = EMBEDDED) -> Settings:
    server = ServerSettings(data_dir=data_dir, bybit_base_url=fake, _env_file=None)  # type: ignore[call-arg]
    return Settings(server, jobs=jobs)


def _window(days: float, interval: str = "60") -> dict[str, Any]:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    start = end - timedelta(days=days)
    return {"symbol": "BTCUSDT", "interval": interval, "start": start.isoformat(),
            "end": end.isoformat()}  # fmt: skip


async def _in_process(data_dir: Path, fake: str, args: dict[str, Any]) -> dict[str, Any]:
    """fetch_history filled in this process: a context given its own MarketData uses it."""
    settings = _settings(data_dir, fake)
    async with httpx.AsyncClient() as http:
        client = M.BybitClient(http, M.ClientConfig(base_url=fake))
        context = AppContext(settings, market=M.MarketData(M.CandleStore(data_dir), client))
        async with Client(build_server(settings, context=context)[0]) as mcp:
            r = await mcp.call_tool("fetch_history", args)
    assert not r.is_error and r.structured_content is not None, r.content
    return r.structured_content


async def test_waiting_follows_the_embedded_job_and_answers_as_in_process(
    tmp_path: Path, fake: str
) -> None:
    args = _window(5, interval="15")
    seen: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    async with Client(build_server(_settings(tmp_path / "job", fake))[0]) as client:
        r = await client.call_tool("fetch_history", args, progress_callback=on_progress)
        listed = (await client.call_tool("list_jobs", {"limit": 1})).structured_content
    assert not r.is_error and r.structured_content is not None, r.content
    assert listed is not None and listed["jobs"][0]["kind"] == "backfill"  # it ran as a job
    assert seen and seen[-1][0] > 0  # the job's progress events, relayed
    assert r.structured_content == await _in_process(tmp_path / "here", fake, args)


async def test_wait_false_answers_as_the_in_process_fill(tmp_path: Path, fake: str) -> None:
    args = _window(3)
    expected = await _in_process(tmp_path / "here", fake, args)
    async with Client(build_server(_settings(tmp_path / "job", fake))[0]) as client:
        t = await client.call_tool("fetch_history", {**args, "wait": False})
        assert t.structured_content is not None and "job_id" in t.structured_content, t.content
        info = await until_state(client, t.structured_content["job_id"], "succeeded", "failed")
    assert info["state"] == "succeeded" and info["kind"] == "backfill", info
    result = dict(info["result"])
    assert result.pop("error") is None and result == expected and expected["complete"]


async def test_a_cancelled_history_job_stops_its_fill(tmp_path: Path, fake: str) -> None:
    args = {**_window(55, interval="1"), "wait": False}  # about 80 pages
    async with Client(build_server(_settings(tmp_path, fake))[0]) as client:
        t = await client.call_tool("fetch_history", args)
        assert t.structured_content is not None, t.content
        job_id = t.structured_content["job_id"]
        running = await until_state(client, job_id, "running", "succeeded", "failed")
        assert running["state"] == "running", running
        await client.call_tool("cancel_job", {"job_id": job_id})
        done = await until_state(client, job_id, "cancelled", "succeeded", "failed")
    assert done["state"] == "cancelled", done


async def test_through_a_redis_worker_waiting_follows_the_job(  # type: ignore[no-untyped-def]
    redis_jobs, tmp_path: Path, fake: str
) -> None:
    service, workers = redis_jobs
    workers.env["BST_BYBIT_BASE_URL"] = fake
    workers.start("w1")
    args = _window(4, interval="15")
    seen: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    server, _ = build_server(_settings(tmp_path, fake, service.settings.jobs))
    async with Client(server) as client:
        r = await client.call_tool("fetch_history", args, progress_callback=on_progress)
        listed = (await client.call_tool("list_jobs", {"limit": 1})).structured_content
    assert not r.is_error and r.structured_content is not None, r.content
    assert listed is not None and listed["jobs"][0]["kind"] == "backfill"  # it ran as a job
    assert seen and seen[-1][0] > 0  # the job's progress events, relayed
    expected = await _in_process(tmp_path / "here", fake, args)
    assert r.structured_content == expected and expected["candles_added"] > 300
    assert "bst.jobs.backfill_fetch" in workers.log("w1")


async def test_embedded_jobs_load_from_the_submitting_servers_store(
    tmp_path: Path, fake: str
) -> None:
    # the process's embedded runner exists already (its first server's data dir is another)
    build_server(_settings(tmp_path / "first", fake))[1].jobs.app()
    async with Client(build_server(_settings(tmp_path / "mine", fake))[0]) as client:
        h = await client.call_tool("fetch_history", _window(12))  # into this server's store
        assert not h.is_error, h.content
        grid = await client.call_tool("optimize_grid", {
            "source": "store", "symbol": "BTCUSDT", "interval": "60",
            "params": {"fast": [5, 10], "slow": [30, 50]},
        })  # fmt: skip
    assert not grid.is_error and grid.structured_content is not None, grid.content
    assert grid.structured_content["evaluated"] == 4
