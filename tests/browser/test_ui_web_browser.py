"""The web pages in a real browser (Debian chromium, Playwright sync API) against the app
under uvicorn: each view renders without errors and draws its chart, the heatmap click goes
through the REST route, the CSP is enforced, and a token-protected page opens only through
a signed link. Screenshots land in `artefact_dir()`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apps_testkit import listed_rows
from browser_testkit import artefact_dir
from ui_web_testkit import UiServer, ui_server

from mcp_server.ui_links import UiSigner

TOKEN = "browser-page-token"
WAIT_MS = 60_000  # generous: a loaded 2-core machine


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    with ui_server(tmp_path_factory.mktemp("ui-web")) as server:
        yield server


@pytest.fixture(scope="module")
def ids(srv: UiServer) -> dict[str, str]:
    return {
        "report": srv.backtest(bars=3000),
        "heatmap": srv.grid(),
        "walkforward": srv.walk_forward(),
    }


def _ready(page: Any) -> dict[str, Any]:
    """Wait for the view to settle; its test state (window.__view)."""
    page.wait_for_function(
        "() => window.__view && window.__view.state !== 'loading'", timeout=WAIT_MS
    )
    state: dict[str, Any] = page.evaluate("() => ({...window.__view})")
    return state


def _drawn(page: Any, selector: str = ".chart canvas") -> int:
    """Canvases under `selector` with at least one painted (non-transparent) pixel."""
    return int(page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).filter((c) => {
             if (!c.width || !c.height) return false;
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
             return false;
           }).length""",
        selector,
    ))  # fmt: skip


def _shot(page: Any, name: str) -> Path:
    path = artefact_dir() / f"ui-web-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_report_page_draws_candles_markers_and_the_trades_table(
    page: Any, srv: UiServer, ids: dict[str, str]
) -> None:
    response = page.goto(f"{srv.url}/ui/backtests/{ids['report']}")
    assert (
        response.status == 200
        and "script-src 'self' 'unsafe-inline'" in response.headers["content-security-policy"]
    )
    v = _ready(page)
    assert v["state"] == "ready" and v["mode"] == "page", v
    n_trades = page.evaluate(
        "JSON.parse(document.getElementById('view-data').textContent).metrics.n_trades"
    )
    assert v["trades"] == n_trades > 0 and v["markers"] == 2 * n_trades, (
        v
    )  # an entry and an exit each
    assert v["rows"] == v["trades"] and listed_rows(page)[0] == list(range(n_trades))
    assert _drawn(page) >= 3  # candles, equity and drawdown panes
    picked = _pick_on_chart(page)  # the whole run in view: most likely a trade far down the list
    row = page.locator(f'.trades .tr[data-i="{picked}"]')  # drawn, marked and scrolled into view
    assert "selected" in row.get_attribute("class")
    wrap, box = page.locator(".table-wrap").bounding_box(), row.bounding_box()
    assert wrap["y"] <= box["y"] and box["y"] + box["height"] <= wrap["y"] + wrap["height"]
    other = picked + 1 if picked + 1 < n_trades else picked - 1
    page.locator(f'.trades .tr[data-i="{other}"]').click()  # a row beside it: picked in turn
    assert page.evaluate("window.__view.selected") == other
    assert page.locator(".trades .tr.selected").count() == 1
    assert page.errors == []
    assert _shot(page, "report").stat().st_size > 10_000


def _pick_on_chart(page: Any) -> int:
    """Click along the candles until a click lands on a bar with a trade; that trade."""
    page.evaluate("window.__view.selected = -1")
    box = page.locator(".chart").bounding_box()
    for x in range(10, int(box["width"]) - 80, 7):
        page.mouse.click(box["x"] + x, box["y"] + box["height"] * 0.3)
        picked = int(page.evaluate("window.__view.selected"))
        if picked >= 0:
            return picked
    raise AssertionError("no click on the chart picked a trade")


def test_the_heatmap_page_runs_a_clicked_cell_through_the_rest_route(
    page: Any, srv: UiServer, ids: dict[str, str]
) -> None:
    page.goto(f"{srv.url}/ui/optimizations/{ids['heatmap']}")
    v = _ready(page)
    assert v["state"] == "ready" and v["cells"] == page.locator("td.cell").count() >= 4, v
    with page.expect_response(
        lambda r: r.url.endswith("/ui/api/backtest-cell"), timeout=WAIT_MS
    ) as answer:
        page.locator("td.cell").nth(1).click()
    assert answer.value.status == 200 and answer.value.request.method == "POST"
    page.wait_for_function("() => window.__view.cellRuns === 1", timeout=WAIT_MS)
    v = page.evaluate("() => ({...window.__view})")
    assert v["rows"] == v["trades"]
    assert listed_rows(page, "#detail")[0] == list(range(v["trades"]))
    assert _drawn(page, "#detail .chart canvas") >= 3
    assert page.errors == []
    _shot(page, "heatmap")


def test_the_walk_forward_page_shows_every_split(
    page: Any, srv: UiServer, ids: dict[str, str]
) -> None:
    page.goto(f"{srv.url}/ui/walk-forward/{ids['walkforward']}")
    v = _ready(page)
    assert v["state"] == "ready" and v["splits"] == 3, v
    assert _drawn(page) >= 1
    assert page.errors == []
    _shot(page, "walkforward")


def test_the_index_and_error_pages_render_without_errors(
    page: Any, srv: UiServer, ids: dict[str, str]
) -> None:
    page.goto(f"{srv.url}/ui/")
    for rid in ids.values():
        assert page.locator(f"a:has-text('{rid}')").count() == 1
    page.locator(f"a:has-text('{ids['report']}')").click()
    assert _ready(page)["state"] == "ready"
    response = page.goto(f"{srv.url}/ui/optimizations/{ids['walkforward']}")
    assert response.status == 409 and "walk-forward" in page.inner_text("body")
    # chromium logs a document's own 4xx status as a console error: that line and nothing else
    assert [e for e in page.errors if "status of 409" not in e] == [], page.errors
    _shot(page, "index")


def test_the_csp_blocks_foreign_scripts_eval_and_foreign_fetches(
    page: Any, srv: UiServer, ids: dict[str, str]
) -> None:
    foreign = srv.url.replace("127.0.0.1", "localhost")  # another origin, same server
    probe = (
        "<script>window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.__csp.push(e.violatedDirective));"
        " try { eval('1'); window.__eval = true; } catch (e) { window.__eval = false; }"
        f" fetch('{foreign}/health').then(() => window.__fetch = 'ok', () => window.__fetch = 'blocked');"
        f'</script><script src="{foreign}/ui/x.js"></script>'
    )

    def inject(route: Any) -> None:  # the server's own response and headers, one probe added
        response = route.fetch()
        route.fulfill(
            response=response, body=response.text().replace("<head>", "<head>" + probe, 1)
        )

    page.route(f"{srv.url}/ui/backtests/*", inject)
    page.goto(f"{srv.url}/ui/backtests/{ids['report']}")
    assert _ready(page)["state"] == "ready"  # the view itself still runs
    page.wait_for_function("() => window.__fetch !== undefined", timeout=WAIT_MS)
    assert page.evaluate("window.__eval") is False and page.evaluate("window.__fetch") == "blocked"
    assert {"script-src-elem", "connect-src"} <= set(page.evaluate("window.__csp")), page.evaluate(
        "window.__csp"
    )


def test_with_a_token_a_page_opens_only_through_a_signed_link(page: Any, tmp_path: Path) -> None:
    with ui_server(tmp_path, TOKEN) as secured:
        bid = secured.backtest(headers={"Authorization": f"Bearer {TOKEN}"})
        target = f"/ui/backtests/{bid}"
        assert page.goto(secured.url + target).status == 401
        expired = UiSigner(TOKEN, clock=lambda: 1_000.0).link_query(target)
        assert page.goto(f"{secured.url}/ui/login?{expired}").status == 403
        minted = httpx.post(secured.url + "/api/v1/ui/links", json={"page": target}, timeout=60,
                            headers={"Authorization": f"Bearer {TOKEN}"}).json()  # fmt: skip
        assert page.goto(minted["url"].replace("sig=", "sig=f")).status == 403
        page.goto(minted["url"])
        page.wait_for_url(secured.url + target, timeout=WAIT_MS)
        assert _ready(page)["state"] == "ready"
        assert page.goto(secured.url + "/ui/").status == 200  # the session cookie opens the others
        page.goto(f"{secured.url}/ui/optimizations/{secured.grid()}")  # and its click's POST
        assert _ready(page)["state"] == "ready"
        page.locator("td.cell").first.click()
        page.wait_for_function("() => window.__view.cellRuns === 1", timeout=WAIT_MS)
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["bst_ui"]["httpOnly"] and cookies["bst_ui"]["sameSite"] == "Strict"
        assert page.errors == [] or all("401" in e or "403" in e for e in page.errors), page.errors
