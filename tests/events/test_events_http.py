"""The event streams in /health and /metrics."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from servers_testkit import free_port

from mcp_server.http import build_http_app
from mcp_server.settings import RouterSettings, ServerSettings, Settings

BASE = "http://127.0.0.1:8000"


def _settings(tmp: Path, events_url: str) -> Settings:
    return Settings(
        ServerSettings(_env_file=None, data_dir=tmp / "store", events_url=events_url),  # type: ignore[call-arg]
        RouterSettings(_env_file=None),  # type: ignore[call-arg]
    )


async def _get(settings: Settings, *paths: str) -> list[httpx.Response]:
    app = build_http_app(settings, host="127.0.0.1", port=8000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        app.state.context.events().emit("j", "queued")
        return [await http.get(p) for p in paths]


async def test_in_process_events_in_health_and_metrics(tmp_path: Path) -> None:
    health, metrics = await _get(_settings(tmp_path, ""), "/health", "/metrics")
    events = health.json()["events"]
    assert events == {"ok": True, "alarm": False, "backend": "memory", "length": 1,
                      "dead_letters": 0, "groups": []}  # fmt: skip
    assert "bst_events_up 1.0" in metrics.text and "bst_events_stream_length 1.0" in metrics.text
    assert "bst_tool_calls" in metrics.text  # the server's own telemetry is still there


async def test_redis_events_with_a_group(tmp_path: Path, redis_url: str) -> None:
    from mcp_server.events import GroupConsumer, RedisEventBus

    settings = _settings(tmp_path, redis_url)
    bus = RedisEventBus.from_url(redis_url)
    GroupConsumer(bus, f"g{uuid.uuid4().hex[:6]}", "c", lambda e: None).ensure_group()
    health, metrics = await _get(settings, "/health", "/metrics")
    events = health.json()["events"]
    assert events["ok"] and events["backend"] == "redis" and events["length"] >= 1
    assert events["groups"] and events["groups"][0]["pending"] == 0
    assert "bst_events_group_lag{" in metrics.text and "bst_events_dead_letters" in metrics.text
    bus.close()


async def test_redis_down_degrades_health_but_metrics_still_answer(tmp_path: Path) -> None:
    settings = _settings(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    app = build_http_app(settings, host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        health = await http.get("/health")
        metrics = await http.get("/metrics")
    body = health.json()
    assert health.status_code == 200 and body["status"] == "degraded"
    assert body["events"]["ok"] is False and "did not answer" in body["events"]["error"]
    assert metrics.status_code == 200 and "bst_events_up 0.0" in metrics.text
