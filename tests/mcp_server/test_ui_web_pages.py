"""The web pages over real HTTP (no browser): each view with its data embedded and the CSP
header, the heatmap click's REST route, and plain error pages for bad ids."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ui_web_testkit import ui_server

from mcp_server.http._ui_html import PAGE_CSP


def _embedded(html: str) -> dict:
    found = re.search(r'<script id="view-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, html[:500]
    return json.loads(found.group(1))


def test_each_page_embeds_its_view_and_data_and_the_click_route_runs_a_cell(tmp_path: Path) -> None:
    with ui_server(tmp_path) as srv:
        bid = srv.backtest()
        oid = srv.grid()
        wid = srv.walk_forward()
        pages = {kind: srv.get(path) for kind, path in (("report", f"/ui/backtests/{bid}"),
                 ("heatmap", f"/ui/optimizations/{oid}"), ("walkforward", f"/ui/walk-forward/{wid}"))}  # fmt: skip
        for kind, r in pages.items():
            assert r.status_code == 200, (kind, r.text[:300])
            assert r.headers["content-security-policy"] == PAGE_CSP
            assert f'data-view="{kind}"' in r.text and _embedded(r.text)["kind"] == kind
        cells = _embedded(pages["heatmap"].text)["cells"]
        assert len(cells) >= 4
        cell = srv.post(
            "/ui/api/backtest-cell", json={"optimization_id": oid, "params": cells[0]["params"]}
        )
        assert cell.status_code == 200 and cell.json()["kind"] == "report"
        assert cell.json()["optimization_id"] == oid and cell.json()["params"] == cells[0]["params"]
        wrong = srv.post(
            "/ui/api/backtest-cell", json={"optimization_id": wid, "params": {"fast": 5}}
        )
        assert wrong.status_code == 409 and "walk-forward" in wrong.json()["detail"]
        index = srv.get("/ui/").text
        assert all(f"{p}{i}" in index for p, i in (("/ui/backtests/", bid), ("/ui/optimizations/", oid),
                                                    ("/ui/walk-forward/", wid)))  # fmt: skip


def test_expired_ids_and_ids_of_another_kind_get_plain_error_pages(tmp_path: Path) -> None:
    with ui_server(tmp_path) as srv:
        wid = srv.walk_forward()
        for path, status in (("/ui/backtests/0123456789abcdef", 404), ("/ui/optimizations/opt-999", 404),
                             (f"/ui/optimizations/{wid}", 409), ("/ui/walk-forward/opt-998", 404)):  # fmt: skip
            r = srv.get(path)
            assert r.status_code == status, (path, r.status_code, r.text[:200])
            assert r.headers["content-type"].startswith("text/html")
            assert r.headers["content-security-policy"] == PAGE_CSP
            assert "Traceback" not in r.text and '<a href="/ui/">' in r.text
        assert "run it again" in srv.get("/ui/backtests/0123456789abcdef").text
        assert srv.get("/ui/backtests/bad%20id").status_code == 422
