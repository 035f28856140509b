"""The web pages' auth (signed links, the session cookie, the guard), the run file and the
recent-results index, over real HTTP (no browser)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from ui_web_testkit import ui_server, ui_settings

from mcp_server.http._ui_html import PAGE_CSP
from mcp_server.runfile import RUN_FILE, advertised, base_url, running_server
from mcp_server.ui_links import COOKIE_NAME, UiSigner, is_page_path, page_address, page_link

TOKEN = "s3cret-token-for-tests"


def test_links_and_sessions_are_signed_expire_and_resist_tampering() -> None:
    now = [1_000_000.0]
    signer = UiSigner(TOKEN, clock=lambda: now[0])
    q = parse_qs(signer.link_query("/ui/backtests/abc", ttl_s=60))
    to, exp, sig = q["to"][0], q["exp"][0], q["sig"][0]
    assert TOKEN not in signer.link_query("/ui/")
    assert signer.link_ok(to, exp, sig)
    assert not signer.link_ok("/ui/backtests/other", exp, sig)  # another page
    assert not signer.link_ok(to, str(int(exp) + 3600), sig)  # a longer life
    assert not signer.link_ok(to, exp, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not UiSigner("another-token", clock=lambda: now[0]).link_ok(to, exp, sig)
    cookie = f"a=b; {COOKIE_NAME}={signer.session_value(ttl_s=60)}"
    assert signer.session_ok(cookie)
    now[0] += 61
    assert not signer.link_ok(to, exp, sig)
    assert not signer.session_ok(cookie)
    assert not signer.session_ok(None) and not signer.session_ok(f"{COOKIE_NAME}=x.y")


def test_only_paths_under_ui_are_pages() -> None:
    assert is_page_path("/ui/") and is_page_path("/ui") and is_page_path("/ui/backtests/x")
    for bad in (
        "/api/v1/backtests",
        "//evil.example/ui/",
        "/ui/../api/v1/x",
        "/uix",
        "https://x/ui/",
    ):
        assert not is_page_path(bad), bad


def test_run_file_names_a_live_server_and_is_removed_on_exit(tmp_path: Path) -> None:
    assert running_server(tmp_path) is None
    with advertised(tmp_path, "http://127.0.0.1:8123") as path:
        found = running_server(tmp_path)
        assert (
            found is not None and found.url == "http://127.0.0.1:8123" and found.pid == os.getpid()
        )
        assert path.name == RUN_FILE
    assert not (tmp_path / RUN_FILE).exists()
    # a file left by a process that has gone is ignored
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (tmp_path / RUN_FILE).write_text(
        f'{{"url": "http://127.0.0.1:1", "pid": {gone.stdout.strip()}}}'
    )
    assert running_server(tmp_path) is None
    (tmp_path / RUN_FILE).write_text("not json")
    assert running_server(tmp_path) is None
    assert (
        base_url("0.0.0.0", 80) == "http://127.0.0.1:80" and base_url("::", 9) == "http://[::1]:9"
    )


def test_page_address_needs_a_server_that_can_see_the_result(tmp_path: Path) -> None:
    settings = ui_settings(tmp_path, TOKEN)
    assert page_address(settings, "/ui/backtests/x", shared_results=False) is None
    with advertised(settings.server.data_dir, "http://127.0.0.1:8124"):
        link = page_address(settings, "/ui/backtests/x", shared_results=False)
    assert link is not None and link.startswith("http://127.0.0.1:8124/ui/login?")
    assert TOKEN not in link
    assert page_link(ui_settings(tmp_path), "http://h:1", "/ui/") == "http://h:1/ui/"


def test_without_a_token_pages_open_and_carry_the_csp(tmp_path: Path) -> None:
    with ui_server(tmp_path) as srv:
        r = srv.get("/ui/")
        assert r.status_code == 200 and "No results yet" in r.text
        assert r.headers["content-security-policy"] == PAGE_CSP
        assert r.headers["referrer-policy"] == "no-referrer"
        link = srv.post("/api/v1/ui/links", json={"page": "/ui/"}).json()
        assert link == {"url": srv.url + "/ui/", "signed": False, "expires_in_s": None}


def test_with_a_token_pages_need_a_signed_link(tmp_path: Path) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with ui_server(tmp_path, TOKEN) as srv:
        refused = srv.get("/ui/")
        assert refused.status_code == 401 and "signed link" in refused.text
        assert srv.post("/api/v1/ui/links", json={"page": "/ui/"}).status_code == 401
        assert srv.post("/api/v1/ui/links", json={"page": "/api/v1/backtests"},
                        headers=bearer).status_code == 422  # fmt: skip
        minted = srv.post("/api/v1/ui/links", json={"page": "/ui/"}, headers=bearer).json()
        assert minted["signed"] and TOKEN not in minted["url"]
        with httpx.Client(timeout=60) as browser:
            login = browser.get(minted["url"])
            assert login.status_code == 200 and 'http-equiv="refresh"' in login.text
            set_cookie = login.headers["set-cookie"]
            for part in ("HttpOnly", "SameSite=Strict", "Path=/ui"):
                assert part in set_cookie, set_cookie
            assert browser.get(srv.url + "/ui/").status_code == 200
            # the cookie opens pages only, never the API
            assert (
                browser.post(srv.url + "/api/v1/backtests", json={"bars": 500}).status_code == 401
            )
        parts = urlsplit(minted["url"])
        tampered = minted["url"].replace("sig=", "sig=0")
        assert srv.get(tampered.removeprefix(srv.url)).status_code == 403
        q = parse_qs(parts.query)
        other = f"/ui/login?to=/ui/backtests/x&exp={q['exp'][0]}&sig={q['sig'][0]}"
        assert srv.get(other).status_code == 403
        expired = UiSigner(TOKEN, clock=lambda: 1_000.0).link_query("/ui/")
        r = srv.get("/ui/login?" + expired)
        assert r.status_code == 403 and "expired" in r.text and "Set-Cookie" not in r.headers
        assert srv.get("/ui/login?to=//evil.example/&exp=1&sig=x").status_code == 400


def test_the_index_lists_recent_results_newest_first(tmp_path: Path) -> None:
    with ui_server(tmp_path) as srv:
        first = srv.backtest(strategy="ema_cross", params={"fast": 5, "slow": 20})
        second = srv.backtest(strategy="sma_cross")
        oid = srv.context.optimizations.put(
            {
                "kind": "grid",
                "strategy": "ema_cross",
                "rows": [{"params": {"fast": 5}, "score": 1.5}],
            }
        )
        wid = srv.context.optimizations.put(
            {"kind": "walk_forward", "strategy": "ema_cross", "rows": [{}, {}]}
        )
        text = srv.get("/ui/").text
    links = [f'href="/ui/walk-forward/{wid}"', f'href="/ui/optimizations/{oid}"',
             f'href="/ui/backtests/{second}"', f'href="/ui/backtests/{first}"']  # fmt: skip
    positions = [text.index(link) for link in links]
    assert positions == sorted(positions), text
    assert "grid search of ema_cross" in text and "best_score 1.5" in text and "splits 2" in text
    assert "sma_cross" in text and "n_trades" in text
