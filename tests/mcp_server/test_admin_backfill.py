"""The admin backfill API: its own credentials (none by default), allowlists, the seeds'
body and answers, sync against the fake Bybit and async through the event bus."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp_testkit import make_settings
from pydantic import SecretStr

from mcp_server.http import build_http_app
from mcp_server.settings import AdminSettings, Settings

BASE = "http://127.0.0.1:8000"
URL = "/api/v1/admin/backfill"
PASSWORD = "correct-horse-battery"
TOKEN = "admin-token-123456"
BODY: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "interval": "1",
    "lookback_minutes": 120,
    "page_limit": 50,
}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


GOOD = _basic("ops", PASSWORD)


def _settings(tmp: Path, fake: str, **admin: Any) -> Settings:
    base = make_settings(tmp, bybit_base_url=fake)
    fields = {"user": "ops", "password": PASSWORD, "token": TOKEN} | admin
    return Settings(base.server, base.router, admin=AdminSettings(_env_file=None, **fields))  # type: ignore[call-arg]


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_http_app(settings, host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


@pytest.fixture
async def admin(tmp_path: Path, fake_bybit: str) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(_settings(tmp_path, fake_bybit)):
        yield http


async def test_unconfigured_admin_api_is_off_and_says_what_to_set(
    tmp_path: Path, fake_bybit: str
) -> None:
    settings = _settings(tmp_path, fake_bybit, user=None, password=None, token=None)
    async for http in _client(settings):
        r = await http.post(URL, json=BODY, headers=_basic("admin", "admin"))  # the seeds' default
        assert r.status_code == 503
        assert (
            "BST_ADMIN_USER" in r.text
            and "BST_ADMIN_PASSWORD" in r.text
            and "BST_ADMIN_TOKEN" in r.text
        )
        assert (await http.get(URL + "/x")).status_code == 503


@pytest.mark.parametrize(
    "headers",
    [
        {},
        _basic("ops", "wrong"),
        _basic("someone", PASSWORD),
        {"Authorization": "Basic not-base64!"},
        {"X-Admin-Token": "wrong-token"},
        {"Authorization": "Bearer wrong-token"},
    ],
)
async def test_missing_or_wrong_credentials_get_401(
    admin: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await admin.post(URL, json=BODY, headers=headers)
    assert r.status_code == 401 and "www-authenticate" in r.headers
    assert (await admin.get(URL + "/anything", headers=headers)).status_code == 401


async def test_the_token_works_in_either_header_and_credentials_stay_out_of_logs(
    admin: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    bad = {**BODY, "symbol": "DOGEUSDT"}  # stops at the allowlist: auth passed, nothing fetched
    for headers in ({"X-Admin-Token": TOKEN}, {"Authorization": f"Bearer {TOKEN}"}, GOOD):
        assert (await admin.post(URL, json=bad, headers=headers)).status_code == 403
    with caplog.at_level(logging.DEBUG):
        await admin.post(URL, json=BODY, headers=_basic("ops", "guessed-password"))
    assert (
        "refused" in caplog.text
        and "guessed-password" not in caplog.text
        and PASSWORD not in caplog.text
    )


async def test_the_general_bearer_token_does_not_replace_admin_credentials(
    tmp_path: Path, fake_bybit: str
) -> None:
    settings = _settings(tmp_path, fake_bybit)
    settings.server.http_token = SecretStr("server-token")
    async for http in _client(settings):
        server_only = {"Authorization": "Bearer server-token"}
        assert (await http.post(URL, json=BODY, headers=server_only)).status_code == 401
        assert (
            await http.get("/api/v1/backtests", headers=GOOD)
        ).status_code == 401  # and vice versa
        evil = {**GOOD, "Host": "evil.example:80"}
        assert (
            await http.post(URL, json=BODY, headers=evil)
        ).status_code == 421  # Host check stays


async def test_allowlists_give_403(
    admin: httpx.AsyncClient, tmp_path: Path, fake_bybit: str
) -> None:
    r = await admin.post(URL, json={**BODY, "symbol": "SOLUSDT"}, headers=GOOD)
    assert r.status_code == 403 and "BST_ADMIN_SYMBOLS" in r.text
    r = await admin.post(URL, json={**BODY, "interval": "3"}, headers=GOOD)
    assert r.status_code == 403 and "BST_ADMIN_INTERVALS" in r.text
    narrow = _settings(tmp_path, fake_bybit, symbols=["ETHUSDT"], intervals=["*"])
    async for http in _client(narrow):
        assert (await http.post(URL, json=BODY, headers=GOOD)).status_code == 403


async def test_bad_bodies_get_422_with_one_line_per_field(admin: httpx.AsyncClient) -> None:
    bad = {
        "symbol": "BTC/USDT",
        "interval": "7",
        "page_limit": 5000,
        "mode": "later",
        "colour": "red",
    }
    r = await admin.post(URL, json=bad, headers=GOOD)
    assert r.status_code == 422
    lines = r.json()["detail"]
    fields = {line.split(":", 1)[0] for line in lines}
    assert {"symbol", "interval", "page_limit", "mode", "colour"} <= fields and len(lines) == len(
        fields
    )
    assert any(line.startswith("interval: not a Bybit interval") for line in lines)
    r = await admin.post(URL, json={"symbol": "BTCUSDT"}, headers=GOOD)
    assert r.status_code == 422 and r.json()["detail"] == [
        "body: give lookback_minutes or start_at_iso (with optional end_at_iso)"
    ]
    r = await admin.post(URL, content=b"{not json", headers=GOOD)
    assert r.status_code == 422 and len(r.json()["detail"]) == 1
    window = {
        "symbol": "BTCUSDT",
        "start_at_iso": "2026-01-02T00:00:00",
        "end_at_iso": "2026-01-01",
    }
    r = await admin.post(URL, json=window, headers=GOOD)
    assert r.status_code == 422 and "before end_at_iso" in r.text


async def test_sync_backfill_writes_the_store_and_answers_like_the_seeds(
    admin: httpx.AsyncClient,
) -> None:
    r = await admin.post(URL, json=BODY, headers=GOOD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"mode", "symbol", "interval", "upserts", "pages", "elapsed_sec", "rows_per_sec"} <= set(
        body
    )
    assert (body["mode"], body["symbol"], body["interval"], body["truncated"]) == (
        "sync",
        "BTCUSDT",
        "1",
        False,
    )
    assert 115 <= body["upserts"] <= 121 and body["pages"] >= 3  # 120 minutes in pages of 50
    assert body["rows_per_sec"] > 0 and body["elapsed_sec"] > 0
    again = (await admin.post(URL, json=BODY, headers=GOOD)).json()
    assert again["upserts"] <= 2  # only what closed since: nothing is fetched twice


async def test_max_pages_caps_the_window_to_its_newest_part(admin: httpx.AsyncClient) -> None:
    capped = {
        **BODY,
        "symbol": "ETHUSDT",
        "lookback_minutes": 600,
        "page_limit": 10,
        "max_pages": 3,
    }
    body = (await admin.post(URL, json=capped, headers=GOOD)).json()
    assert body["truncated"] is True and body["upserts"] <= 30 and body["pages"] <= 4


async def test_async_backfill_returns_a_task_id_and_completes_with_events(
    admin: httpx.AsyncClient,
) -> None:
    r = await admin.post(URL, json={**BODY, "mode": "async", "lookback_minutes": 90}, headers=GOOD)
    assert r.status_code == 202 and r.json()["mode"] == "async"
    status = await _wait_done(admin, r.json()["task_id"])
    assert status["status"] == "succeeded", status
    assert status["result"]["mode"] == "async" and status["result"]["upserts"] >= 85
    assert status["error"] is None and status["events"] >= 3  # queued, started, ..., succeeded
    job = (await admin.get(f"/api/v1/jobs/{status['task_id']}")).json()  # the task is a job
    assert (job["kind"], job["state"]) == ("backfill", "succeeded"), job
    missing = await admin.get(f"{URL}/backfill-nope", headers=GOOD)
    assert missing.status_code == 404 and "mode=async" in missing.text


def test_admin_secrets_are_redacted(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "http://127.0.0.1:1")
    assert PASSWORD in settings.secrets() and TOKEN in settings.secrets()


async def _wait_done(http: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status: dict[str, Any] = (await http.get(f"{URL}/{task_id}", headers=GOOD)).json()
        if status["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return status
        await anyio.sleep(0.05)


async def test_a_failing_backfill_says_why_in_both_modes(tmp_path: Path, fake_bybit: str) -> None:
    async for http in _client(_settings(tmp_path, fake_bybit, symbols=["*"])):
        unknown = {**BODY, "symbol": "NOPEUSDT"}
        r = await http.post(URL, json=unknown, headers=GOOD)
        assert r.status_code == 400 and "NOPEUSDT" in r.json()["detail"]
        r = await http.post(URL, json={**unknown, "mode": "async"}, headers=GOOD)
        status = await _wait_done(http, r.json()["task_id"])
        assert (
            status["status"] == "failed"
            and "NOPEUSDT" in status["error"]
            and status["result"] is None
        )


async def test_async_backfill_with_the_broker_down_is_a_clear_503(
    tmp_path: Path, fake_bybit: str
) -> None:
    from servers_testkit import free_port

    from mcp_server.settings import JobsSettings

    base = _settings(tmp_path, fake_bybit)
    dead = JobsSettings(broker_url=f"redis://127.0.0.1:{free_port()}/0", _env_file=None)  # type: ignore[call-arg]
    settings = Settings(base.server, base.router, admin=base.admin, jobs=dead)
    async for http in _client(settings):
        started = time.monotonic()
        r = await http.post(URL, json={**BODY, "mode": "async"}, headers=GOOD)
        assert r.status_code == 503 and "BST_BROKER_URL" in r.text, r.text
        assert time.monotonic() - started < 30  # seconds, not a hang
        sync = await http.post(URL, json=BODY, headers=GOOD)  # in-process work still runs
        assert sync.status_code == 200 and sync.json()["mode"] == "sync"
