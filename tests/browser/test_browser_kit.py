"""The browser kit itself: chromium runs page scripts, reports their errors, and enforces a
Content-Security-Policy the way the views rely on (inline code runs; external scripts and
eval do not)."""

from __future__ import annotations

from typing import Any

_CSP = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'"

_PAGE = f"""<!doctype html><html><head>
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<script>window.inlineRan = true;
try {{ eval("1+1"); window.evalRan = true; }} catch (e) {{ window.evalRan = false; }}</script>
<script src="https://cdn.example.invalid/x.js"></script>
</head><body><p id="p">ok</p></body></html>"""


def test_inline_scripts_run_and_csp_blocks_external_code(page: Any) -> None:
    page.set_content(_PAGE)
    assert page.evaluate("window.inlineRan") is True
    assert page.evaluate("window.evalRan") is False  # page scripts only: evaluate() bypasses CSP
    assert any("Content Security Policy" in e or "script-src" in e for e in page.errors), page.errors


def test_page_errors_are_recorded(page: Any) -> None:
    page.set_content("<script>throw new Error('boom in page')</script>")
    assert any("boom in page" in e for e in page.errors)
