"""What the guard answers for the web pages, over real HTTP (no browser): a page refused for
want of the token is an HTML page saying how to get a signed link (the API's refusals stay
text), and /metrics counts every page under one route label, `/ui`."""

from __future__ import annotations

from pathlib import Path

from ui_web_testkit import ui_server

from mcp_server.http._ui_html import PAGE_CSP

TOKEN = "guard-page-token"


def test_a_refused_page_says_how_to_get_in_and_the_api_stays_text(tmp_path: Path) -> None:
    with ui_server(tmp_path, TOKEN) as srv:
        r = srv.get("/ui/backtests/abc")
        assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"] == PAGE_CSP
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "bybit-tester ui-link /ui/backtests/abc" in r.text and "/api/v1/ui/links" in r.text
        assert r.text.startswith("<!doctype html>")
        hostile = srv.get("/ui/%3Cscript%3Ealert(1)%3C/script%3E")
        assert hostile.status_code == 401 and "<script>" not in hostile.text
        api = srv.get("/api/v1/backtests/abc")
        assert api.status_code == 401 and api.headers["content-type"].startswith("text/plain")
        assert "Authorization: Bearer" in api.text
        # the heatmap click's route is under /ui but read by a script: its refusal stays text
        cell = srv.post("/ui/api/backtest-cell", json={"optimization_id": "x", "params": {}})
        assert cell.status_code == 401 and cell.headers["content-type"].startswith("text/plain")
        assert "signed link" in cell.text
        metrics = srv.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert 'bst_http_requests_total{route="/ui",status="401"} 2.0' in metrics
    assert 'route="/ui/api/backtest-cell",status="401"} 1.0' in metrics
    assert "abc" not in metrics and "script" not in metrics


def test_pages_are_counted_under_one_route_label(tmp_path: Path) -> None:
    with ui_server(tmp_path) as srv:
        bid = srv.backtest(bars=500)
        assert srv.get(f"/ui/backtests/{bid}").status_code == 200
        assert srv.get("/ui/backtests/0000000000000000").status_code == 404
        assert srv.get("/ui/walk-forward/0000000000000000").status_code == 404
        assert srv.get("/ui/").status_code == 200
        assert srv.get("/no-such-page").status_code == 404
        metrics = srv.get("/metrics").text
    assert 'bst_http_requests_total{route="/ui",status="200"} 1.0' in metrics
    assert 'bst_http_requests_total{route="/ui",status="404"} 2.0' in metrics
    assert 'route="/ui/",status="200"} 1.0' in metrics  # a fixed route keeps its own label
    assert 'route="other",status="404"} 1.0' in metrics
    assert bid not in metrics
