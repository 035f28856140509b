"""The server and the results catalog: what one server computed, the next one reads back
(the same ids, through the same resources), on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

import engine
import market as M
from mcp_server._recording import Recording
from mcp_server.cache import make_cache
from mcp_server.candles import CandleSource, DataSet, DataSpec
from mcp_server.catalog import CatalogRecorder, RunQuery, open_recorder
from mcp_server.context import AppContext
from mcp_server.errors import ResultNotFoundError
from mcp_server.http import build_http_app
from mcp_server.results import BacktestResults
from mcp_server.server import build_server
from mcp_server.settings import CatalogSettings, RouterSettings, ServerSettings, Settings
from mcp_server.telemetry import Telemetry

RUN = {"strategy": "sma_cross", "params": {"fast": 7, "slow": 31}, "symbol": "SOLUSDT",
       "bars": 3000, "seed": 11, "include_chart": False}  # fmt: skip
GRID = {"bars": 3000, "symbol": "SOLUSDT", "seed": 11,
        "params": {"fast": "5:15:5", "slow": [30, 40]}}  # fmt: skip


def catalog_settings(tmp: Path, url: str, **catalog: Any) -> Settings:
    """Settings of one server process: its own data dir and memory cache, the catalog `url`."""
    return Settings(
        ServerSettings(_env_file=None, data_dir=tmp / "store", cache_url="memory://"),  # type: ignore[call-arg]
        RouterSettings(_env_file=None, router_mode="live"),  # type: ignore[call-arg]
        catalog=CatalogSettings(_env_file=None, DATABASE_URL=url, **catalog),  # type: ignore[call-arg]
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/catalog.sqlite3"
    return str(request.getfixturevalue("postgres_url"))


def _text(result: Any) -> Any:
    return json.loads(result.contents[0].text)


async def test_results_outlive_the_server(tmp_path: Path, database_url: str) -> None:
    """Server A runs a backtest and a grid search and stops; server B (the same catalog, a
    fresh memory cache) lists them and answers their resources with the same content."""
    server_a, _ = build_server(catalog_settings(tmp_path / "a", database_url))
    async with Client(server_a) as client:
        run = await client.call_tool("run_backtest", RUN)
        assert not run.is_error, run.content
        bid = run.structured_content["id"]  # type: ignore[index]
        trades_a = _text(await client.read_resource(f"backtest://{bid}/trades"))
        grid = await client.call_tool("optimize_grid", GRID)
        assert not grid.is_error, grid.content
        oid = grid.structured_content["id"]  # type: ignore[index]
        table_a = _text(await client.read_resource(f"optimization://{oid}/table"))
    assert oid.startswith("opt-") and len(oid) == 16  # opt- + the job id's first 12

    server_b, context_b = build_server(catalog_settings(tmp_path / "b", database_url))
    async with Client(server_b) as client:
        page = await anyio.to_thread.run_sync(
            lambda: context_b.catalog.catalog.list_runs(RunQuery(symbol="SOLUSDT", strategy="sma_cross"))
        )
        assert bid in [r.id for r in page.runs]
        trades_b = _text(await client.read_resource(f"backtest://{bid}/trades"))
        assert trades_b == trades_a and trades_b["n_trades"] > 0
        report = _text(await client.read_resource(f"backtest://{bid}/report"))
        assert report["id"] == bid and report["params"] == {"fast": 7, "slow": 31}
        table_b = _text(await client.read_resource(f"optimization://{oid}/table"))
        assert table_b == table_a and table_b["total"] == 6
        png = (await client.read_resource(f"optimization://{oid}/heatmap")).contents[0]
        assert base64.b64decode(png.blob).startswith(b"\x89PNG")  # type: ignore[union-attr]
        stored, _ = await anyio.to_thread.run_sync(
            lambda: context_b.catalog.catalog.get_optimization(oid)
        )
        assert stored["kind"] == "grid" and stored["evaluated"] == 6
        assert stored["best_params"] == table_a["rows"][0]["params"]
        with pytest.raises(MCPError, match="no backtest with id"):
            await client.read_resource("backtest://0123456789abcdef/report")

    # the web index lists what the catalog holds, not only this process's memory
    app = build_http_app(context_b.settings, host="127.0.0.1", port=8000, context=context_b)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http:
        index = await http.get("/ui/")
    assert index.status_code == 200 and f"/ui/backtests/{bid}" in index.text and oid in index.text
    await context_b.aclose()


def _results(tmp: Path, recorder: CatalogRecorder) -> BacktestResults:
    """A fresh holder (empty memory, empty cache) recording into `recorder`."""
    return BacktestResults(CandleSource(M.CandleStore(tmp)), make_cache("memory://", 3600),
                           Telemetry(), recording=Recording(lambda: recorder))  # fmt: skip


def test_data_that_no_longer_loads_is_answered_from_the_stored_trades(tmp_path: Path) -> None:
    """A run on data its spec no longer loads (a stress scenario's): after a restart its
    trades are the stored ones and its equity the stored outline, never a re-run."""
    settings = catalog_settings(tmp_path, f"sqlite:///{tmp_path}/catalog.sqlite3")
    recorder = open_recorder(settings)
    config = engine.BacktestConfig()

    async def run() -> None:
        first = _results(tmp_path, recorder)
        ds = await first.candles.load(DataSpec(bars=2000, symbol="ADAUSDT"))
        crashed = DataSet(engine.with_gap(ds.candles, -0.3), ds.spec)
        stressed = await first.run(crashed, "sma_cross", {}, config, chart=False)
        assert stressed.result is not None
        again = await _results(tmp_path, recorder).get(stressed.id)
        assert again.result is not None
        assert again.result.trade_dicts() == stressed.result.trade_dicts()
        assert again.result.extra["equity_outline"] == 2000  # short curves are kept whole
        assert any("equity outline of 2000 points" in n for n in again.notes)
        with pytest.raises(ResultNotFoundError):
            await _results(tmp_path, recorder).get("fedcba9876543210")

    try:
        anyio.run(run)
    finally:
        recorder.close()


async def test_an_optimisation_id_is_the_jobs_and_a_table_is_kept_once(tmp_path: Path) -> None:
    context = AppContext(catalog_settings(tmp_path, f"sqlite:///{tmp_path}/catalog.sqlite3"))
    try:
        tables = context.optimizations
        request = {"symbol": "X", "interval": "15", "strategy": "sma_cross", "data": {},
                   "fingerprint": "f", "space": {}, "objective": {}, "options": {}}  # fmt: skip
        summary = {"evaluated": 1, "best": None, "overfitting": {}}
        table = {"kind": "grid", "strategy": "sma_cross", "rows": [{"params": {"fast": 1}, "score": 1.0}]}
        oid = await tables.keep(table, key="abcdef0123456789", request=request, summary=summary)
        assert oid == "opt-abcdef012345"
        again = await tables.keep(table, key="abcdef0123456789", request=request, summary=summary)
        assert again == oid
        loose = await tables.keep(table, request=request, summary=summary)
        assert loose.startswith("opt-") and loose != oid and len(loose) == 16
        fresh = AppContext(context.settings)  # a restart: nothing in memory
        try:
            assert await fresh.optimizations.load(oid) == table
            with pytest.raises(ResultNotFoundError):
                await fresh.optimizations.load("opt-000000000000")
        finally:
            await fresh.aclose()
    finally:
        await context.aclose()
