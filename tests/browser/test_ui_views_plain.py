"""The views as plain browser pages (data embedded, no host): they draw the same, a heatmap
click goes to POST /ui/api/backtest-cell, and bad data is said plainly in the page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps_testkit import WAIT_MS, app_server, harness, inked_pixels, listed_rows, open_view, view
from browser_testkit import artefact_dir

from mcp_server.ui import view_html

GRID = {"strategy": "ema_cross", "params": {"fast": [5, 20, 5], "slow": [30, 60, 10]}, "bars": 3000}
SETTLED = "() => window.__view && window.__view.state !== 'loading'"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with app_server(tmp_path_factory.mktemp("plain")) as url:
        yield url


def _result_id(page: Any, base: str, tool: str, args: dict[str, Any]) -> str:
    open_view(page, base, tool, args)
    return str(harness(page)["result"]["structuredContent"]["id"])


def _load(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_function(SETTLED, timeout=WAIT_MS)
    return view(page)


def test_plain_report_page_draws_like_the_app(page: Any, base: str) -> None:
    bid = _result_id(page, base, "run_backtest", {"strategy": "ema_cross", "bars": 3000})
    v = _load(page, f"{base}/test-plain/report/{bid}")
    assert v["mode"] == "page" and v["state"] == "ready", v["message"]
    assert v["trades"] > 0 and v["markers"] == 2 * v["trades"] == 2 * v["rows"]
    assert inked_pixels(page) > 100
    page.screenshot(path=str(Path(artefact_dir()) / "page_report.png"), full_page=True)
    assert page.errors == []


def test_plain_heatmap_click_posts_to_the_cell_route(page: Any, base: str) -> None:
    oid = _result_id(page, base, "optimize_grid", GRID)
    posted: list[dict[str, Any]] = []

    def to_stand_in(route: Any) -> None:
        posted.append(json.loads(route.request.post_data))
        route.continue_(url=f"{base}/test-api/backtest-cell")

    page.route("**/ui/api/backtest-cell", to_stand_in)
    v = _load(page, f"{base}/test-plain/heatmap/{oid}")
    assert v["state"] == "ready" and v["cells"] > 0, v["message"]
    page.locator("td.cell.best").click()
    page.wait_for_function("() => window.__view.cellRuns === 1", timeout=WAIT_MS)
    v = view(page)
    assert posted[0]["optimization_id"] == oid and posted[0]["params"]
    assert v["rows"] == v["trades"]
    assert listed_rows(page, "#detail")[0] == list(range(v["trades"]))
    assert inked_pixels(page, "#detail .chart canvas") > 100
    page.screenshot(path=str(Path(artefact_dir()) / "page_heatmap_click.png"), full_page=True)
    assert page.errors == []


def test_expired_and_wrong_kind_ids_are_said_plainly(page: Any, base: str) -> None:
    wid = _result_id(page, base, "walk_forward", {**GRID, "n_splits": 3})
    v = _load(page, f"{base}/test-plain/heatmap/{wid}")
    assert v["state"] == "error" and "walk-forward result" in v["message"]
    v = _load(page, f"{base}/test-plain/report/{'0' * 16}")
    assert v["state"] == "error" and "no backtest with id" in v["message"]
    assert page.locator("#status").inner_text() == v["message"]
    v = _load(page, f"{base}/test-plain/walkforward/{wid}")
    assert v["state"] == "ready" and v["splits"] == 3
    assert page.errors == []


def _report(page: Any, base: str, bars: int) -> dict[str, Any]:
    bid = _result_id(page, base, "run_backtest", {"strategy": "ema_cross", "bars": bars})
    return page.request.get(f"{base}/test-data/report/{bid}").json()  # type: ignore[no-any-return]


def test_gaps_missing_values_and_a_single_bar(page: Any, base: str) -> None:
    data = _report(page, base, 600)
    c = data["candles"]
    for key in c:  # a hole in the middle of the series, and one bar without prices
        c[key] = c[key][:200] + c[key][400:]
    for key in ("open", "high", "low", "close"):
        c[key][10] = None
    for key in ("equity", "drawdown", "buy_hold"):
        data[key] = data[key][:200] + data[key][400:]
    data["gaps"] = 1
    page.set_content(view_html("report", data))
    page.wait_for_function(SETTLED, timeout=WAIT_MS)
    v = view(page)
    assert v["state"] == "ready" and v["bars"] == 400
    assert "1 time gap(s)" in page.locator(".notes").inner_text()
    assert inked_pixels(page) > 100

    one = {**data, "bars": 1, "gaps": 0, "candles": {k: v[:1] for k, v in data["candles"].items()}}
    one.update(
        equity=data["equity"][:1], drawdown=data["drawdown"][:1], buy_hold=data["buy_hold"][:1]
    )
    one["trades"] = {k: [] for k in data["trades"]} | {"reasons": []}
    page.set_content(view_html("report", one))
    page.wait_for_function(SETTLED, timeout=WAIT_MS)
    assert view(page)["bars"] == 1 and view(page)["trades"] == 0
    assert "Only one bar" in page.locator(".notes").inner_text()
    page.set_content(view_html("report"))  # opened without data
    page.wait_for_function(SETTLED, timeout=WAIT_MS)
    assert view(page)["state"] == "empty" and "without data" in view(page)["message"]
    assert page.errors == []
