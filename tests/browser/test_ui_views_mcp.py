"""The views in a real browser, inside a minimal MCP Apps host (apps_host.html) that talks
to the app's /mcp/ like VS Code: handshake order, drawing, markers and rows per trade, the
heatmap click through the app-only tool, teardown, and the CSP a host imposes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps_testkit import WAIT_MS, app_server, harness, inked_pixels, listed_rows, open_view, view
from browser_testkit import artefact_dir

GRID = {"strategy": "ema_cross", "params": {"fast": [5, 20, 5], "slow": [30, 60, 10]}, "bars": 3000}
HANDSHAKE = [
    "ui/initialize",  # view -> host
    "response",  # host -> view
    "ui/notifications/initialized",
    "ui/notifications/tool-input",
    "ui/notifications/tool-result",
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with app_server(tmp_path_factory.mktemp("apps")) as url:
        yield url


# the colour of the chart's background: a pixel of its main canvas near the top left corner
_CORNER = """() => {
  const c = document.querySelector('.chart canvas');
  return Array.from(c.getContext('2d').getImageData(3, 3, 1, 1).data);
}"""


def _in_order(log: list[str], expected: list[str]) -> bool:
    at = [log.index(m) for m in expected]
    return at == sorted(at)


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(Path(artefact_dir()) / f"mcp_{name}.png"), full_page=True)


def test_report_view_draws_every_trade_and_answers_teardown(page: Any, base: str) -> None:
    frame = open_view(page, base, "run_backtest", {"strategy": "ema_cross", "bars": 3000})
    v, h = view(frame), harness(page)
    n_trades = h["result"]["structuredContent"]["metrics"]["n_trades"]
    assert v["state"] == "ready", v["message"]
    assert h["mime"] == "text/html;profile=mcp-app"
    assert n_trades > 0 and v["trades"] == n_trades
    assert v["markers"] == 2 * n_trades  # an entry and an exit marker per trade
    assert v["rows"] == n_trades and listed_rows(frame)[0] == list(range(n_trades))
    assert inked_pixels(frame) > 100
    assert _in_order(h["log"], HANDSHAKE), h["log"]
    assert h["log"].index("ui/notifications/size-changed") > h["log"].index(
        "ui/notifications/initialized"
    )
    assert h["sizes"] and h["sizes"][-1]["height"] > 400
    assert any(r.startswith("backtest://") and r.endswith("/view") for r in h["reads"])
    assert "run_backtest_cell" not in h["modelTools"] and "run_backtest" in h["modelTools"]
    frame.locator(".trades .tbody .tr").nth(1).click()
    assert view(frame)["selected"] == 1
    _shot(page, "report")
    page.evaluate("window.__harness.teardown()")
    page.wait_for_function("window.__harness.teardownReply !== null", timeout=WAIT_MS)
    assert harness(page)["teardownReply"]["result"] == {}
    assert view(frame)["teardown"] is True
    assert h["errors"] == [] and h["csp"] == [] and page.errors == []


def test_heatmap_click_runs_the_cell_through_the_app_only_tool(page: Any, base: str) -> None:
    frame = open_view(page, base, "optimize_grid", GRID)
    v = view(frame)
    assert v["state"] == "ready", v["message"]
    assert v["cells"] == harness(page)["result"]["structuredContent"]["evaluated"]
    assert frame.locator("td.cell.best").count() == 1
    frame.locator("td.cell:not(.best)").first.click()
    frame.wait_for_function("() => window.__view.cellRuns === 1", timeout=WAIT_MS)
    v, h = view(frame), harness(page)
    assert h["calls"] == ["run_backtest_cell"] and h["refused"] == []
    assert v["rows"] == v["trades"]
    assert listed_rows(frame, "#detail")[0] == list(range(v["trades"]))
    assert v["markers"] == 2 * v["trades"]
    assert inked_pixels(frame, "#detail .chart canvas") > 100
    _shot(page, "heatmap_click")
    assert h["errors"] == [] and h["csp"] == [] and page.errors == []


def test_the_view_follows_the_host_theme(page: Any, base: str) -> None:
    frame = open_view(page, base, "run_backtest", {"strategy": "ema_cross", "bars": 1000})
    light = frame.evaluate(_CORNER)
    page.evaluate(
        "window.__harness.setContext({theme: 'dark', styles: {variables: "
        "{'--color-background-primary': '#101820', '--color-text-primary': '#f0f0f0'}}})"
    )
    frame.wait_for_function(
        "() => getComputedStyle(document.body).backgroundColor === 'rgb(16, 24, 32)'",
        timeout=WAIT_MS,
    )
    frame.wait_for_function(f"() => ({_CORNER})().join() === '16,24,32,255'", timeout=WAIT_MS)
    assert light == [255, 255, 255, 255]
    assert frame.evaluate("document.documentElement.getAttribute('data-theme')") == "dark"
    _shot(page, "report_dark")
    assert page.errors == []


def test_walkforward_view_shows_each_split(page: Any, base: str) -> None:
    frame = open_view(page, base, "walk_forward", {**GRID, "n_splits": 3})
    v, h = view(frame), harness(page)
    assert v["state"] == "ready", v["message"]
    assert v["splits"] == 3 == frame.locator("table.splits tr").count() - 1
    assert (
        frame.locator(".seg.is:not(.key)").count()
        == 3
        == frame.locator(".seg.oos:not(.key)").count()
    )
    assert inked_pixels(frame) > 100
    assert _in_order(h["log"], HANDSHAKE), h["log"]
    _shot(page, "walkforward")
    assert h["errors"] == [] and page.errors == []


def test_heatmap_axes_of_three_params_are_chosen_in_the_view(page: Any, base: str) -> None:
    search = {
        "strategy": "macd_cross",
        "params": {"fast": [5, 8], "slow": [20, 30], "signal": [5, 9]},
    }
    frame = open_view(page, base, "optimize_grid", {**search, "bars": 2000})
    picks = frame.locator("select[data-axis]")
    assert picks.count() == 2
    before = view(frame)["renders"]
    picks.nth(0).select_option("signal")
    frame.wait_for_function(f"() => window.__view.renders > {before}", timeout=WAIT_MS)
    assert frame.locator("select[data-axis]").nth(0).input_value() == "signal"
    assert any("?x=signal" in r for r in harness(page)["reads"])
    assert page.errors == []


def test_the_host_relays_only_tools_listed_for_apps(page: Any, base: str) -> None:
    """Every tool here is callable by apps except none, so the refusal is shown with a tool the
    server does not list (the visibility check is the same branch of the host)."""
    frame = open_view(page, base, "run_backtest", {"strategy": "ema_cross", "bars": 500})
    frame.evaluate(
        "() => parent.postMessage({jsonrpc: '2.0', id: 99, method: 'tools/call',"
        " params: {name: 'place_order', arguments: {}}}, '*')"
    )
    page.wait_for_function("window.__harness.refused.length === 1", timeout=WAIT_MS)
    assert harness(page)["refused"] == ["place_order"]


def test_csp_blocks_an_external_script_in_a_view(page: Any, base: str) -> None:
    """The check can fail: the same view with an external script makes the host record a
    violation (the views themselves record none, in the tests above)."""
    open_view(page, base, "run_backtest", {"strategy": "ema_cross", "bars": 500}, tamper="1")
    page.wait_for_function("window.__harness.csp.length > 0", timeout=WAIT_MS)
    csp = harness(page)["csp"]
    assert csp[0]["directive"] == "script-src-elem" and "cdn.example.invalid" in csp[0]["blocked"]


def test_a_long_report_is_drawn_whole_from_buckets(page: Any, base: str) -> None:
    """100,000 candles and about 5,000 trades: every trade is marked and listed while at most
    2,000 bars are drawn (the speed is bench/views.py's figure, not asserted here)."""
    args = {"strategy": "ema_cross", "params": {"fast": 8, "slow": 21}, "bars": 100_000}
    frame = open_view(page, base, "run_backtest", args)
    v = view(frame)
    n_trades = harness(page)["result"]["structuredContent"]["metrics"]["n_trades"]
    assert v["state"] == "ready" and n_trades > 4000
    assert v["bars"] == 2000 and v["markers"] == 2 * n_trades and v["rows"] == n_trades
    # the table draws the rows in view only; its first, middle and last stretches are there
    index, most = listed_rows(frame, at=[0.0, 0.5, 1.0])
    assert most < 200 and index[0] == 0 and index[-1] == n_trades - 1
    assert any(abs(i - n_trades // 2) < 20 for i in index)
    assert inked_pixels(frame) > 100
    assert page.errors == []
