"""The job routes over ASGI (embedded worker): submit, follow events (SSE, resumable),
read results, cancel, and the clear errors of the error table."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from servers_testkit import free_port

import engine as E
from mcp_server.http import build_http_app
from mcp_server.settings import JobsSettings, ServerSettings, Settings

BASE = "http://127.0.0.1:8000"
GRID: dict[str, Any] = {"strategy": "sma_cross", "params": {"fast": [5, 10, 15], "slow": [30, 50]},
                        "bars": 3000, "seed": 4, "chunks": 3}  # fmt: skip


@pytest.fixture
async def rest(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        ServerSettings(data_dir=tmp_path, _env_file=None),  # type: ignore[call-arg]
        jobs=JobsSettings(broker_url="", _env_file=None),  # type: ignore[call-arg]
    )
    app = build_http_app(settings, host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


def _events(text: str) -> list[dict[str, Any]]:
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if "data" in fields:
            out.append({"id": fields["id"], "event": fields["event"], **json.loads(fields["data"])})
    return out


async def _finished(rest: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    r = await rest.get(f"/api/v1/jobs/{job_id}/events")  # the stream ends with the job
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    return (await rest.get(f"/api/v1/jobs/{job_id}")).json()


async def test_grid_job_over_rest_with_resumable_events(rest: httpx.AsyncClient) -> None:
    r = await rest.post("/api/v1/optimizations/grid", json=GRID)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "queued" and r.headers["location"] == f"/api/v1/jobs/{job['id']}"
    assert (await _finished(rest, job["id"]))["state"] == "succeeded"
    events = _events((await rest.get(f"/api/v1/jobs/{job['id']}/events")).text)
    assert events[0]["event"] == "queued" and events[-1]["event"] == "succeeded"
    resumed = await rest.get(
        f"/api/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": events[2]["id"]}
    )
    assert [e["id"] for e in _events(resumed.text)] == [e["id"] for e in events[3:]]
    result = (await rest.get(f"/api/v1/jobs/{job['id']}/result")).json()
    candles = E.sample_candles(symbol="BTCUSDT", interval="15", bars=3000, seed=4)
    space = E.make_space("sma_cross", GRID["params"])
    whole = E.optimize_grid(candles, space)
    assert [row["params"] for row in result["table"]] == [row["params"] for row in whole.table()]
    listed = (await rest.get("/api/v1/jobs")).json()["jobs"]
    assert job["id"] in [j["id"] for j in listed]


async def test_async_backtest_and_the_error_table(rest: httpx.AsyncClient) -> None:
    body = {"strategy": "ema_cross", "bars": 2000}
    r = await rest.post("/api/v1/backtests?mode=async", json=body)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert (await _finished(rest, job_id))["state"] == "succeeded"
    assert (await rest.get(f"/api/v1/jobs/{job_id}/result")).json()["metrics"]["n_trades"] >= 0
    sync = await rest.post("/api/v1/backtests", json=body)
    assert sync.status_code == 200 and "id" in sync.json()

    missing = await rest.get("/api/v1/jobs/nope")
    assert missing.status_code == 404 and "list jobs" in missing.json()["detail"]
    assert (await rest.delete("/api/v1/jobs/nope")).status_code == 404
    bad = await rest.post("/api/v1/optimizations/grid", json={**GRID, "params": {"nope": [1]}})
    assert bad.status_code == 400 and "nope" in bad.json()["detail"]
    bad_id = await rest.get(f"/api/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "x"})
    assert bad_id.status_code == 400


async def test_cancelled_job_has_no_result(rest: httpx.AsyncClient) -> None:
    big = {**GRID, "params": {"fast": "2:60:1", "slow": "61:160:3"}, "bars": 60_000, "chunks": 4,
           "overfit": False}  # fmt: skip
    job = (await rest.post("/api/v1/optimizations/grid", json=big)).json()
    early = await rest.get(f"/api/v1/jobs/{job['id']}/result")
    assert early.status_code == 409 and "wait" in early.json()["detail"]
    await anyio.sleep(0.5)
    cancelled = await rest.delete(f"/api/v1/jobs/{job['id']}")
    assert cancelled.status_code == 200
    assert (await _finished(rest, job["id"]))["state"] == "cancelled"
    late = await rest.get(f"/api/v1/jobs/{job['id']}/result")
    assert late.status_code == 409 and "cancelled" in late.json()["detail"]


async def test_health_and_metrics_show_jobs(rest: httpx.AsyncClient) -> None:
    await rest.post("/api/v1/backtests?mode=async", json={"strategy": "ema_cross", "bars": 500})
    health = (await rest.get("/health")).json()
    assert health["jobs"]["mode"] == "embedded" and health["jobs"]["broker"] == "in-process"
    text = (await rest.get("/metrics")).text
    assert 'bst_jobs{kind="backtest"' in text and "bst_job_store_up 1.0" in text


async def test_a_broker_that_is_down_is_a_clear_error_and_the_rest_still_works(
    tmp_path: Path,
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings(
        ServerSettings(data_dir=tmp_path, _env_file=None),  # type: ignore[call-arg]
        jobs=JobsSettings(broker_url=dead, _env_file=None),  # type: ignore[call-arg]
    )
    app = build_http_app(settings, host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as rest:
        started = time.monotonic()
        r = await rest.post("/api/v1/optimizations/grid", json=GRID)
        assert r.status_code == 503 and "does not answer" in r.json()["detail"]
        health = (await rest.get("/health")).json()
        assert time.monotonic() - started < 30  # seconds, not a hang
        assert health["status"] == "degraded" and health["jobs"]["broker"].startswith("unreachable")
        assert "in-process" in health["jobs"]["note"]
        ok = await rest.post("/api/v1/backtests", json={"strategy": "ema_cross", "bars": 500})
        assert ok.status_code == 200
        assert "bst_job_store_up 0.0" in (await rest.get("/metrics")).text


async def test_walk_forward_job_over_rest(rest: httpx.AsyncClient) -> None:
    body = {"strategy": "ema_cross", "params": {"fast": [5, 10], "slow": [40, 80]}, "bars": 5000,
            "n_splits": 3}  # fmt: skip
    r = await rest.post("/api/v1/optimizations/walk-forward", json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "walk_forward" and job["chunks"] == 3
    assert (await _finished(rest, job["id"]))["state"] == "succeeded"
    summary = (await rest.get(f"/api/v1/jobs/{job['id']}/result")).json()["summary"]
    assert summary["n_splits"] == 3 and len(summary["splits"]) == 3
    too_few = await rest.post("/api/v1/optimizations/walk-forward", json={**body, "bars": 60})
    assert too_few.status_code == 400


async def test_bayes_job_over_rest(rest: httpx.AsyncClient) -> None:
    body = {"strategy": "sma_cross", "params": {"fast": "3:40", "slow": "41:150"}, "bars": 4000,
            "n_trials": 16, "batch_size": 8, "seed": 2, "overfit": False}  # fmt: skip
    r = await rest.post("/api/v1/optimizations/bayes", json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "bayes"
    assert (await _finished(rest, job["id"]))["state"] == "succeeded"
    result = (await rest.get(f"/api/v1/jobs/{job['id']}/result")).json()
    assert result["summary"]["method"] == "bayes" and len(result["table"]) == 16
    wrong = await rest.post("/api/v1/optimizations/bayes", json={**body, "n_trials": 0})
    assert wrong.status_code == 422
