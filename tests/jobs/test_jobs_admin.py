"""The admin backfill API's async mode on a real worker: the task id is a job id, the
backfill runs on the `backfill` queue of a `bybit-tester worker` process (not in the
server), and its status comes from the job's record and Redis stream."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobs_testkit import wait_terminal
from pydantic import SecretStr

import market as M
from mcp_server.cli.data import build_fake
from mcp_server.events import RedisEventBus
from mcp_server.http import build_http_app
from mcp_server.jobs import job_events_url
from mcp_server.settings import AdminSettings, ServerSettings, Settings

pytestmark = [pytest.mark.redis, pytest.mark.slow]

URL = "/api/v1/admin/backfill"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"ops:worker-side-pass").decode()}


async def test_async_backfill_finishes_on_a_worker(redis_jobs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    fake = M.ServerThread(build_fake(5).app).start()
    try:
        workers.start("w1")
        server = ServerSettings(data_dir=tmp_path / "server", bybit_base_url=fake.url,
                                _env_file=None)  # type: ignore[call-arg]  # fmt: skip
        admin = AdminSettings(user="ops", password=SecretStr("worker-side-pass"), _env_file=None)  # type: ignore[call-arg]
        settings = Settings(server, admin=admin, jobs=service.settings.jobs)
        app = build_http_app(settings, host="127.0.0.1", port=8000)
        body = {"symbol": "BTCUSDT", "interval": "60", "lookback_minutes": 48 * 60,
                "mode": "async"}  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            r = await http.post(URL, json=body, headers=AUTH)
            assert r.status_code == 202, r.text
            task_id = r.json()["task_id"]
            record = wait_terminal(service, task_id)  # the same job, seen from the test
            assert record.state == "succeeded", workers.log("w1")[-3000:]
            status: dict[str, Any] = (await http.get(f"{URL}/{task_id}", headers=AUTH)).json()
        assert status["status"] == "succeeded" and status["error"] is None, status
        assert status["result"]["symbol"] == "BTCUSDT" and status["result"]["upserts"] >= 40
        assert status["result"]["mode"] == "async"
        assert "w1@" in workers.log("w1") and not (tmp_path / "server").exists()  # not here
        bus = RedisEventBus.from_url(job_events_url(service.settings))  # another process's view
        events = bus.read(task_id)
        bus.close()
        kinds = [e.kind for e in events]
        assert kinds[:2] == ["queued", "started"] and kinds[-1] == "succeeded"
        assert events[1].data["worker"].startswith("w1@")  # started on the worker, not here
    finally:
        fake.stop()
