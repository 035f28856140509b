"""GET /api/v1/runs, GET /api/v1/runs/{id} and PATCH /api/v1/runs/{id}/tags in process
(httpx over ASGI), over runs written straight into a catalog of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from surfaces_testkit import server_settings, three_runs

from mcp_server.http import build_http_app

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def stored(tmp_path: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    url = f"sqlite:///{tmp_path}/runs.sqlite3"
    return url, three_runs(url)


@pytest.fixture
async def rest(tmp_path: Path, stored: tuple[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    app = build_http_app(server_settings(tmp_path, stored[0]), host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


async def test_list_filters_sorts_bounds_and_pages(rest: httpx.AsyncClient, stored: tuple[str, Any]) -> None:
    runs = stored[1]
    r = await rest.get("/api/v1/runs")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3 and [x["id"] for x in body["runs"]] == [runs[k]["id"] for k in ("rsi", "sma", "ema")]
    assert body["runs"][0]["created"].startswith("2025-06-17")

    r = await rest.get("/api/v1/runs", params={"symbol": "BTCUSDT", "sort": "total_return", "ascending": "true"})
    returns = sorted(runs[k]["metrics"]["total_return"] for k in ("ema", "sma"))
    assert [x["metrics"]["total_return"] for x in r.json()["runs"]] == pytest.approx(returns, abs=1e-3)

    low = min(runs[k]["metrics"]["sharpe"] for k in runs)
    r = await rest.get("/api/v1/runs", params=[("min", f"sharpe:{low + 1e-9}"), ("max", "max_drawdown:1")])
    assert r.status_code == 200 and r.json()["total"] == 2

    r = await rest.get("/api/v1/runs", params={"since": "2025-06-16", "until": "2025-06-16"})
    assert [x["id"] for x in r.json()["runs"]] == [runs["sma"]["id"]]

    r = await rest.get("/api/v1/runs", params={"limit": 2})
    assert r.json()["next_offset"] == 2
    r = await rest.get("/api/v1/runs", params={"limit": 2, "offset": 2})
    assert r.json()["next_offset"] is None and len(r.json()["runs"]) == 1


async def test_bad_queries_are_400_with_the_fix(rest: httpx.AsyncClient) -> None:
    r = await rest.get("/api/v1/runs", params={"sort": "luck"})
    assert r.status_code == 400 and "luck" in r.json()["detail"] and "sharpe" in r.json()["detail"]
    r = await rest.get("/api/v1/runs", params={"min": "sharpe"})
    assert r.status_code == 400 and "metric:value" in r.json()["detail"]
    r = await rest.get("/api/v1/runs", params={"since": "yesterday-ish"})
    assert r.status_code == 400
    r = await rest.get("/api/v1/runs", params={"limit": 0})
    assert r.status_code in (400, 422)


async def test_get_and_tag_a_run(rest: httpx.AsyncClient, stored: tuple[str, Any]) -> None:
    rid = stored[1]["ema"]["id"]
    r = await rest.get(f"/api/v1/runs/{rid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["run"]["params"] == {"fast": 10, "slow": 30} and body["run"]["tags"] == []
    assert body["resources"]["report"] == f"backtest://{rid}/report" and "summary" not in body["run"]

    r = await rest.patch(f"/api/v1/runs/{rid}/tags", json={"add": ["best", "q3"], "note": "keep this one"})
    assert r.status_code == 200, r.text
    assert r.json()["run"]["tags"] == ["best", "q3"] and r.json()["run"]["note"] == "keep this one"
    r = await rest.patch(f"/api/v1/runs/{rid}/tags", json={"remove": ["q3"]})
    assert r.json()["run"]["tags"] == ["best"] and r.json()["run"]["note"] == "keep this one"
    listed = await rest.get("/api/v1/runs", params={"tag": "best"})
    assert [x["id"] for x in listed.json()["runs"]] == [rid]

    r = await rest.patch(f"/api/v1/runs/{rid}/tags", json={"add": ["two words"]})
    assert r.status_code == 400 and "two words" in r.json()["detail"]


async def test_unknown_run_is_404(rest: httpx.AsyncClient) -> None:
    r = await rest.get("/api/v1/runs/0000000000000000")
    assert r.status_code == 404 and "0000000000000000" in r.json()["detail"]
    r = await rest.patch("/api/v1/runs/0000000000000000/tags", json={"add": ["x"]})
    assert r.status_code == 404


async def test_a_database_that_does_not_answer_is_503(tmp_path: Path) -> None:
    # a closed port on loopback: refused at once
    url = "postgresql://bst@127.0.0.1:9/nothing"
    app = build_http_app(server_settings(tmp_path, url), host="127.0.0.1", port=8000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        r = await http.get("/api/v1/runs")
    assert r.status_code == 503 and "DATABASE_URL" in r.json()["detail"]
    assert "127.0.0.1:9" in r.json()["detail"]
