"""The view API (mcp_server.ui): the documents are self-contained and safe to embed data in,
the vendored chart library is the pinned one, and the view data is what the views need."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from itertools import pairwise

import pytest
from mcp import Client

from mcp_server.candles import DataSpec
from mcp_server.errors import ResultKindError, ResultNotFoundError
from mcp_server.server import build_server
from mcp_server.settings import Settings
from mcp_server.ui import (
    VIEW_KINDS,
    heatmap_data,
    report_data,
    run_cell,
    view_html,
    walkforward_data,
)
from mcp_server.ui._optimization import MAX_SIDE
from mcp_server.ui._report import MAX_BARS

LIBRARY = "lightweight-charts.standalone.production.js"
LIBRARY_SHA256 = "e21cc5caa0226ef30bd8549c50b9ef926615f2a4ee6b4e486353477a55f598cf"
GRID = {"strategy": "ema_cross", "params": {"fast": [5, 20, 5], "slow": [30, 60, 10]}}


def _vendor(name: str) -> bytes:
    return (resources.files("mcp_server.ui") / "vendor" / name).read_bytes()


def test_the_vendored_chart_library_is_lightweight_charts_5_2_1_with_its_licence() -> None:
    lib = _vendor(LIBRARY)
    assert hashlib.sha256(lib).hexdigest() == LIBRARY_SHA256
    assert b"TradingView Lightweight Charts\xe2\x84\xa2 v5.2.1" in lib[:200]
    assert b"Apache License" in _vendor("LICENSE")
    assert b"TradingView" in _vendor("NOTICE") and b"tradingview.com" in _vendor("NOTICE")


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_a_view_is_one_self_contained_document(kind: str) -> None:
    html = view_html(kind)
    lib = _vendor(LIBRARY).decode()
    assert html.startswith("<!doctype html>") and lib in html
    ours = html.replace(lib, "").replace('<link rel="icon" href="data:,">', "")  # no favicon fetch
    assert not re.search(r"https?://", ours), "a URL outside the vendored library"
    assert not re.search(r"<script[^>]+src=|<link\b|@import|url\(", ours, re.I)
    assert "eval(" not in ours and "new Function" not in ours and "window.onmessage" not in ours
    assert "attributionLogo: true" in ours  # the TradingView link the licence asks for
    assert html.count("</script>") == 3  # data, library, view: nothing else closes a script
    assert f'data-view="{kind}"' in html


def test_embedded_data_cannot_close_its_script_element() -> None:
    data = {"kind": "report", "note": "</script><script>alert(1)</script>", "x": "<!--"}
    html = view_html("report", data)
    body = re.search(r'<script id="view-data" type="application/json">(.*?)</script>', html, re.S)
    assert body is not None
    assert "</" not in body.group(1)
    assert json.loads(body.group(1)) == data
    assert re.search(r'id="view-data"[^>]*>null</script>', view_html("report"))


def test_an_unknown_view_is_refused() -> None:
    with pytest.raises(ValueError, match="report, heatmap, walkforward"):
        view_html("pie")


def _strictly_ascending(values: list[int]) -> bool:
    return all(b > a for a, b in pairwise(values))


async def test_report_data_is_bucketed_json_with_every_trade(settings: Settings) -> None:
    server, context = build_server(settings)
    async with Client(server) as client:
        r = await client.call_tool("run_backtest", {"strategy": "ema_cross", "bars": 50_000})
        bid = r.structured_content["id"]  # type: ignore[index]
        data = await report_data(context, bid)
        stored = await context.results.get(bid)
    json.dumps(data, allow_nan=False)
    c, t = data["candles"], data["trades"]
    assert data["kind"] == "report" and data["bars"] == 50_000
    assert len(c["time"]) <= MAX_BARS and data["bucket"] == 25
    assert _strictly_ascending(c["time"])
    assert len(data["equity"]) == len(data["drawdown"]) == len(data["buy_hold"]) == len(c["time"])
    assert stored.result is not None and len(t["side"]) == stored.result.n_trades > 0
    assert set(t["side"]) <= {1, -1} and {t["reasons"][k] for k in t["reason"]} <= {
        "signal",
        "end",
        "sl",
        "tp",
        "trail",
        "liquidation",
    }
    assert all(c["time"][0] <= a <= b for a, b in zip(t["entry_time"], t["exit_time"], strict=True))
    candles = (await context.candles.load(DataSpec.model_validate(stored.request["data"]))).candles
    assert max(c["high"]) == pytest.approx(float(candles.high.max()))  # buckets keep the extremes
    assert min(c["low"]) == pytest.approx(float(candles.low.min()))


async def test_heatmap_data_marks_the_best_cell_and_runs_a_cell(settings: Settings) -> None:
    server, context = build_server(settings)
    async with Client(server) as client:
        o = await client.call_tool("optimize_grid", {**GRID, "bars": 3000})
        oid = o.structured_content["id"]  # type: ignore[index]
        data = await heatmap_data(context, oid)
        cell = data["cells"][0]
        report = await run_cell(context, oid, cell["params"])
    json.dumps(data, allow_nan=False)
    assert data["kind"] == "heatmap" and sorted(data["axes"]) == ["fast", "slow"]
    assert len(data["cells"]) == data["evaluated"]  # two parameters: one row per cell
    assert [c["params"] for c in data["cells"] if c["best"]] == [data["best"]["params"]]
    assert {"deflated_sharpe", "pbo", "sharpe_ci"} <= set(data["overfit"])
    assert report["kind"] == "report" and report["params"] == cell["params"]
    assert report["optimization_id"] == oid


async def test_walkforward_data_and_ids_of_another_kind(settings: Settings) -> None:
    server, context = build_server(settings)
    async with Client(server) as client:
        w = await client.call_tool("walk_forward", {**GRID, "bars": 3000, "n_splits": 3})
        wid = w.structured_content["id"]  # type: ignore[index]
        data = await walkforward_data(context, wid)
        with pytest.raises(ResultKindError, match="walk-forward result"):
            await heatmap_data(context, wid)
        with pytest.raises(ResultKindError):
            await run_cell(context, wid, {"fast": 5, "slow": 30})
        with pytest.raises(ResultNotFoundError):
            await walkforward_data(context, "opt-999")
        with pytest.raises(ResultNotFoundError):
            await report_data(context, "0" * 16)
    json.dumps(data, allow_nan=False)
    assert data["kind"] == "walkforward" and len(data["splits"]) == 3
    for split in data["splits"]:
        assert split["train_s"][0] < split["train_s"][1] < split["test_s"][0] <= split["test_s"][1]
    tests = [s["test_s"][0] for s in data["splits"]]
    assert _strictly_ascending(tests) and _strictly_ascending(data["candles"]["time"])


async def test_heatmap_of_three_params_picks_two_axes_and_bins_continuous_ones(
    settings: Settings,
) -> None:
    server, context = build_server(settings)
    search = {"strategy": "rsi", "params": {"period": "5:30", "lower": "10:45", "upper": "55:90"}}
    async with Client(server) as client:
        o = await client.call_tool("optimize_random", {**search, "n_samples": 200, "bars": 3000})
        oid = o.structured_content["id"]  # type: ignore[index]
        auto = await heatmap_data(context, oid)
        chosen = await heatmap_data(context, oid, x="upper", y="period")
    assert sorted(auto["varied"]) == ["lower", "period", "upper"] and len(auto["axes"]) == 2
    assert chosen["axes"] == ["upper", "period"]
    for data in (auto, chosen):
        assert len(data["x"]) <= MAX_SIDE and len(data["y"]) <= MAX_SIDE  # floats in bins
        assert len({(c["x"], c["y"]) for c in data["cells"]}) == len(data["cells"])
        assert sum(c["best"] for c in data["cells"]) == 1  # the best row is its cell's pick
        assert all(set(c["params"]) == {"period", "lower", "upper"} for c in data["cells"])


async def test_heatmap_of_one_param_is_one_row(settings: Settings) -> None:
    server, context = build_server(settings)
    async with Client(server) as client:
        o = await client.call_tool(
            "optimize_grid", {"strategy": "ema_cross", "params": {"fast": [5, 8, 13]}, "bars": 2000}
        )
        data = await heatmap_data(context, o.structured_content["id"])  # type: ignore[index]
    assert data["axes"] == ["fast"] and data["x"] == [5, 8, 13] and data["y"] == [None]
    assert [c["y"] for c in data["cells"]] == [0, 0, 0]


async def test_heatmap_with_nothing_scored_has_no_cells(settings: Settings) -> None:
    server, context = build_server(settings)
    async with Client(server) as client:
        o = await client.call_tool("optimize_grid", {**GRID, "bars": 2000, "min_trades": 100_000})
        data = await heatmap_data(context, o.structured_content["id"])  # type: ignore[index]
    assert data["best"] is None and data["cells"] == [] and data["evaluated"] > 0
