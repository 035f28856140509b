"""The small HTML the web pages need besides the views: the index of recent results, error
pages and the login hand-off, all sent with the pages' security headers."""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from typing import Any

from fastapi.responses import HTMLResponse

from mcp_server.results import RecentResult
from mcp_server.ui_links import page_path

__all__ = ["PAGE_CSP", "error_page", "index_page", "login_page", "page", "signin_page"]

# The view's own rules (spec §6): inline script and style only, fetch back to this server
# only (the heatmap click), no plugins, no framing, no form posts, no <base> rewrites.
PAGE_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    # a signed link in the address bar must not travel on as a Referer
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:24px;color:#1f2328;background:#fff}"
    "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #d0d7de;"
    "text-align:left}th{background:#f6f8fa}code{background:#f6f8fa;padding:1px 4px}"
    ".num{text-align:right;font-variant-numeric:tabular-nums}"
)


def page(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """An HTML response with the pages' security headers."""
    return HTMLResponse(body, status_code=status, headers={**_HEADERS, **(headers or {})})


def _document(title: str, body: str, head: str = "") -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{head}'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def error_page(status: int, message: str) -> HTMLResponse:
    """A plain page that says what went wrong and how to go on (never a traceback)."""
    title = {404: "Result not found", 409: "Wrong kind of result", 401: "Not signed in",
             403: "Link refused"}.get(status, "Cannot show this page")  # fmt: skip
    body = f'<h1>{title}</h1><p>{html.escape(message)}</p><p><a href="/ui/">Recent results</a></p>'
    return page(_document(title, body), status)


def signin_page(path: str) -> tuple[str, dict[str, str]]:
    """The body and headers of a page request refused for want of the token (the guard sends
    it, before any route): a browser cannot send a bearer token, so say how to get a link."""
    where = html.escape(path)
    body = (
        "<h1>Not signed in</h1><p>This server asks for its token (<code>BST_HTTP_TOKEN</code>), "
        "which a browser cannot send. Open the page through a short-lived signed link instead:</p>"
        f"<ul><li>on the server's machine: <code>bybit-tester ui-link {where}</code> "
        "(add <code>--open</code> to open it);</li>"
        f'<li>or <code>POST /api/v1/ui/links</code> with <code>{{"page": "{where}"}}</code> and '
        "<code>Authorization: Bearer &lt;BST_HTTP_TOKEN&gt;</code>, then open the "
        "<code>url</code> it answers.</li></ul>"
        "<p>The link sets a session cookie that opens the other pages for a working day.</p>"
    )
    headers = {**_HEADERS, "Content-Type": "text/html; charset=utf-8"}
    return _document("Not signed in", body), headers


def login_page(to: str, cookie: str) -> HTMLResponse:
    """Set the session cookie, then go on to `to` with a same-site navigation: a SameSite=Strict
    cookie set by a redirect that a cross-site click started is not sent on the redirected
    request, but one this page starts carries it."""
    target = html.escape(to, quote=True)
    body = f'<p>Signed in. <a href="{target}">Continue to the page</a>.</p>'
    head = f'<meta http-equiv="refresh" content="0;url={target}">'
    return page(_document("Signed in", body, head), headers={"Set-Cookie": cookie})


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


def index_page(results: Iterable[RecentResult]) -> HTMLResponse:
    """The recent results, newest first, each with its headline and a link to its page."""
    rows = []
    for r in results:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.created))
        head = ", ".join(f"{k} {_cell(v)}" for k, v in r.headline.items() if v is not None)
        link = html.escape(page_path(r.kind, r.id), quote=True)
        rows.append(
            f"<tr><td>{when}</td><td>{r.kind.replace('_', '-')}</td>"
            f'<td><a href="{link}">{html.escape(r.id)}</a></td><td>{html.escape(r.title)}</td>'
            f"<td>{html.escape(head)}</td></tr>"
        )
    if rows:
        table = (
            "<table><thead><tr><th>created (UTC)</th><th>kind</th><th>id</th><th>what</th>"
            f"<th>headline</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    else:
        table = (
            "<p>No results yet. Run a backtest (the <code>run_backtest</code> tool, "
            "<code>POST /api/v1/backtests</code> or <code>bybit-tester backtest --open</code>), "
            "an optimisation or a walk-forward, then reload this page.</p>"
        )
    body = f"<h1>Recent results</h1>{table}<p>Results live in this server's memory; the oldest go first.</p>"
    return page(_document("Recent results · bybit-strategy-tester", body))
