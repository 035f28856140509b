"""list_runs, get_run and compare_strategies(runs=...) through the SDK's in-memory client,
over runs written straight into a catalog of the test's own."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from surfaces_testkit import open_test_catalog, server_settings, store_run

from mcp_server.catalog import Catalog
from mcp_server.server import build_server


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tools on both engines (postgresql: a fresh database on the test server)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path}/runs.sqlite3"


@pytest.fixture
def stored(url: str) -> dict[str, dict[str, Any]]:
    """Five runs: four on BTCUSDT (two tagged), one on ETHUSDT, created a day apart."""
    catalog = open_test_catalog(url)
    day = 86_400.0
    base = time.time() - 10 * day
    runs = {
        "ema_a": store_run(catalog, params={"fast": 10, "slow": 30}, created=base, tags=("keep",)),
        "ema_b": store_run(catalog, params={"fast": 20, "slow": 60}, created=base + day),
        "sma": store_run(catalog, strategy="sma_cross", created=base + 2 * day, tags=("keep",)),
        "rsi": store_run(catalog, strategy="rsi", created=base + 3 * day),
        "eth": store_run(catalog, symbol="ETHUSDT", created=base + 4 * day),
    }
    catalog.close()
    return runs


async def _call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)  # type: ignore[union-attr]


async def _error(client: Client, name: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(name, args)
    assert result.is_error, result
    return str(result.content[0].text)  # type: ignore[union-attr]


async def test_list_filters_sorts_and_pages(tmp_path: Path, url: str, stored: dict[str, Any]) -> None:
    server, _ = build_server(server_settings(tmp_path, url))
    async with Client(server) as client:
        page = await _call(client, "list_runs", {})
        assert page["total"] == 5
        assert [r["id"] for r in page["runs"]] == [stored[k]["id"] for k in ("eth", "rsi", "sma", "ema_b", "ema_a")]
        first = page["runs"][-1]
        assert first["strategy"] == "ema_cross" and first["params"] == {"fast": 10, "slow": 30}
        assert first["symbol"] == "BTCUSDT" and first["interval"] == "15" and first["tags"] == ["keep"]
        assert first["trades"] == stored["ema_a"]["metrics"]["n_trades"]
        assert "sharpe" in first["metrics"] and "total_return" in first["metrics"]

        btc = await _call(client, "list_runs", {"symbol": "btcusdt", "strategy": "ema_cross"})
        assert {r["id"] for r in btc["runs"]} == {stored["ema_a"]["id"], stored["ema_b"]["id"]}
        tagged = await _call(client, "list_runs", {"tag": "keep"})
        assert {r["id"] for r in tagged["runs"]} == {stored["ema_a"]["id"], stored["sma"]["id"]}

        by_sharpe = await _call(client, "list_runs", {"sort": "sharpe", "symbol": "BTCUSDT"})
        sharpes = [stored[k]["metrics"]["sharpe"] for k in ("ema_a", "ema_b", "sma", "rsi")]
        assert [r["metrics"]["sharpe"] for r in by_sharpe["runs"]] == pytest.approx(sorted(sharpes, reverse=True), abs=1e-3)
        low = await _call(client, "list_runs", {"sort": "sharpe", "ascending": True, "symbol": "BTCUSDT", "limit": 1})
        assert low["runs"][0]["metrics"]["sharpe"] == pytest.approx(min(sharpes), abs=1e-3)

        cut = sorted(sharpes)[1]  # keeps three of the four
        bounded = await _call(client, "list_runs", {"symbol": "BTCUSDT", "min_metrics": {"sharpe": cut}})
        assert bounded["total"] == 3
        capped = await _call(client, "list_runs", {"symbol": "BTCUSDT", "max_metrics": {"sharpe": cut}})
        assert capped["total"] == 2  # the bound itself is kept by both

        p1 = await _call(client, "list_runs", {"limit": 2})
        p2 = await _call(client, "list_runs", {"limit": 2, "offset": p1["next_offset"]})
        p3 = await _call(client, "list_runs", {"limit": 2, "offset": p2["next_offset"]})
        assert p1["next_offset"] == 2 and p2["next_offset"] == 4 and "next_offset" not in p3
        ids = [r["id"] for p in (p1, p2, p3) for r in p["runs"]]
        assert ids == [r["id"] for r in page["runs"]]


async def test_list_by_dates(tmp_path: Path, url: str, stored: dict[str, Any]) -> None:
    server, _ = build_server(server_settings(tmp_path, url))
    created = {k: v for k, v in stored.items()}
    async with Client(server) as client:
        every = {r["id"]: r["created"] for r in (await _call(client, "list_runs", {}))["runs"]}
        sma_day = every[created["sma"]["id"]][:10]
        same_day = await _call(client, "list_runs", {"since": sma_day, "until": sma_day})
        assert [r["id"] for r in same_day["runs"]] == [created["sma"]["id"]]
        later = await _call(client, "list_runs", {"since": every[created["rsi"]["id"]]})
        assert {r["id"] for r in later["runs"]} == {created["rsi"]["id"], created["eth"]["id"]}
        bad = await _error(client, "list_runs", {"since": "last tuesday"})
        assert "since" in bad or "datetime" in bad


async def test_unknown_metric_and_unknown_id_are_clear_errors(tmp_path: Path, url: str, stored: dict[str, Any]) -> None:
    server, _ = build_server(server_settings(tmp_path, url))
    async with Client(server) as client:
        text = await _error(client, "list_runs", {"sort": "sharpness"})
        assert "sharpness" in text and "sharpe" in text and "total_return" in text
        text = await _error(client, "list_runs", {"min_metrics": {"profit": 1.0}})
        assert "profit" in text and "profit_factor" in text
        text = await _error(client, "get_run", {"run_id": "0123456789abcdef"})
        assert "0123456789abcdef" in text and "list_runs" in text


async def test_get_run_has_everything_but_arrays(tmp_path: Path, url: str, stored: dict[str, Any]) -> None:
    server, _ = build_server(server_settings(tmp_path, url))
    rid = stored["ema_a"]["id"]
    async with Client(server) as client:
        body = await _call(client, "get_run", {"run_id": rid})
    run = body["run"]
    assert run["id"] == rid and run["strategy"] == "ema_cross" and run["tags"] == ["keep"]
    assert run["params"] == {"fast": 10, "slow": 30} and run["config"]["fee"] == pytest.approx(0.00055)
    assert run["metrics"]["n_trades"] == stored["ema_a"]["metrics"]["n_trades"] == run["trades"]
    assert set(run["metrics"]) >= {"sharpe", "sortino", "calmar", "expectancy", "exits_sl"}
    assert run["data"]["symbol"] == "BTCUSDT" and run["bars"] == 1500
    assert body["resources"] == {k: f"backtest://{rid}/{k}" for k in ("trades", "equity", "report")}
    assert "summary" not in run and "equity" not in json.dumps(run["data"])


async def test_compare_stored_runs_ranks_without_rerunning(tmp_path: Path, url: str, stored: dict[str, Any]) -> None:
    server, _ = build_server(server_settings(tmp_path, url))
    keys = ("ema_a", "ema_b", "sma")
    async with Client(server) as client:
        body = await _call(client, "compare_strategies", {"runs": [stored[k]["id"] for k in keys], "rank_by": "total_return"})
        mixed = await _call(client, "compare_strategies", {"runs": [stored["ema_a"]["id"], stored["eth"]["id"]]})
        both = await _error(client, "compare_strategies", {"runs": [stored["ema_a"]["id"], stored["sma"]["id"]],
                                                           "candidates": [{"strategy": "rsi"}, {"strategy": "sma_cross"}]})
        neither = await _error(client, "compare_strategies", {})
        unknown = await _error(client, "compare_strategies", {"runs": [stored["ema_a"]["id"], "ffffffffffffffff"]})
        commented = await _call(client, "compare_strategies", {"runs": [stored[k]["id"] for k in keys], "commentary": True})
    returns = sorted((stored[k]["metrics"]["total_return"] for k in keys), reverse=True)
    assert [r["metrics"]["total_return"] for r in body["ranking"]] == pytest.approx(returns, abs=1e-3)
    assert [r["rank"] for r in body["ranking"]] == [1, 2, 3]
    assert {r["id"] for r in body["ranking"]} == {stored[k]["id"] for k in keys}
    assert body["synthetic"] is True and "BTCUSDT" in body["data"] and "different" not in body["data"]
    assert "different data sets" in mixed["data"] and "ETHUSDT" in mixed["data"] and stored["eth"]["id"] in mixed["data"]
    assert "either candidates" in both and "either candidates" in neither
    assert "ffffffffffffffff" in unknown
    assert commented["commentary"] and commented["commentary_agent"]


async def test_the_tools_read_the_shared_catalog_recorded_by_another_process(tmp_path: Path) -> None:
    """A run recorded by a Catalog opened elsewhere (a worker) is listed by the server's."""
    url = f"sqlite:///{tmp_path}/shared.sqlite3"
    server, _ = build_server(server_settings(tmp_path, url))
    async with Client(server) as client:
        assert (await _call(client, "list_runs", {}))["total"] == 0
        worker: Catalog = open_test_catalog(url)
        rid = store_run(worker, strategy="momentum")["id"]
        worker.close()
        listed = await _call(client, "list_runs", {"strategy": "momentum"})
    assert [r["id"] for r in listed["runs"]] == [rid]
