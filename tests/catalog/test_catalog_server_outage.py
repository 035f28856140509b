"""The catalog's database stops while the server runs: backtests are still answered at once,
/health and /metrics say what waits, and once the database is back every record lands once."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
from test_catalog_server import catalog_settings

from mcp_server.catalog import RunQuery
from mcp_server.context import AppContext
from mcp_server.http import build_http_app

BASE = "http://127.0.0.1:8000"
REQUEST: dict[str, Any] = {"strategy": "sma_cross", "symbol": "DOTUSDT", "bars": 2000, "seed": 5}


def _gauge(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


async def test_a_stopped_database_costs_the_calls_nothing(tmp_path: Path, postgres_restartable: Any) -> None:
    db = postgres_restartable
    context = AppContext(catalog_settings(tmp_path, db.url, db_retry_sec=0.5, db_connect_timeout=2))
    app = build_http_app(context.settings, host="127.0.0.1", port=8000, context=context)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=120) as http:
        first = await http.post("/api/v1/backtests", json={**REQUEST, "params": {"fast": 5, "slow": 20}})
        assert first.status_code == 200, first.text
        assert (await http.get("/health")).json()["catalog"]["status"] == "ok"

        await anyio.to_thread.run_sync(db.stop)
        started = time.monotonic()
        r = await http.post("/api/v1/backtests", json={**REQUEST, "params": {"fast": 6, "slow": 25}})
        assert r.status_code == 200, r.text
        assert time.monotonic() - started < 30  # a refused connection, not a hang
        bid = r.json()["id"]
        health = (await http.get("/health")).json()
        assert health["status"] == "degraded"
        assert health["catalog"]["status"] == "down" and health["catalog"]["pending"] >= 1
        metrics = (await http.get("/metrics")).text
        assert _gauge(metrics, "bst_catalog_pending") >= 1 and _gauge(metrics, "bst_catalog_up") == 0

        await anyio.to_thread.run_sync(db.start)
        deadline = time.monotonic() + 90
        while (await http.get("/health")).json()["catalog"]["pending"] and time.monotonic() < deadline:
            await anyio.sleep(0.5)
        health = (await http.get("/health")).json()
        assert health["catalog"]["pending"] == 0 and health["catalog"]["status"] == "ok", health
        metrics = (await http.get("/metrics")).text
        assert _gauge(metrics, "bst_catalog_pending") == 0 and _gauge(metrics, "bst_catalog_up") == 1

    page = await anyio.to_thread.run_sync(
        lambda: context.catalog.catalog.list_runs(RunQuery(symbol="DOTUSDT", limit=50))
    )
    assert [r.id for r in page.runs].count(bid) == 1 and page.total == 2
    await context.aclose()
