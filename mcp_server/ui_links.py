"""Signed links and session cookies for the web pages (`/ui/...`), and their addresses.

A browser cannot send the bearer token on navigation, and the token must never sit in a URL
(URLs end up in logs, history and referrers). So, when BST_HTTP_TOKEN is set:

- a *link* `/ui/login?to=<page>&exp=<unix s>&sig=<hex>` is signed with HMAC-SHA256 under a
  key derived from the token (so every process that has the token can mint one, and rotating
  the token revokes them all); it lives `LINK_TTL_S` seconds;
- opening it answers a session cookie (HttpOnly, SameSite=Strict, path /ui) whose value is
  `<exp>.<sig>` under the same key with another purpose, and sends the browser on to `to`;
- the guard accepts that cookie for /ui/* only; the REST API still wants the bearer token.

Without a token (the loopback default) pages open as they are and no link is signed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from urllib.parse import urlencode

from mcp_server.runfile import running_server
from mcp_server.settings import Settings

__all__ = [
    "COOKIE_NAME",
    "COOKIE_TTL_S",
    "LINK_TTL_S",
    "LOGIN_PATH",
    "UiSigner",
    "is_page_path",
    "page_address",
    "page_link",
    "page_path",
]

LOGIN_PATH = "/ui/login"
COOKIE_NAME = "bst_ui"
LINK_TTL_S = 15 * 60  # long enough to click a link printed in a chat, short enough to go stale
COOKIE_TTL_S = 8 * 3600  # a working day of looking at results
_PURPOSE_KEY = b"bybit-strategy-tester/ui-link/v1"
_PAGE_PATHS = {"backtest": "/ui/backtests/", "optimization": "/ui/optimizations/",
               "walk_forward": "/ui/walk-forward/"}  # fmt: skip


def page_path(kind: str, rid: str) -> str:
    """The web page of a result (`kind` backtest, optimization or walk_forward)."""
    return _PAGE_PATHS[kind] + rid


def is_page_path(path: str) -> bool:
    """A path under /ui, which the session cookie may open; no `..` or `//` tricks
    (a `to` that is not one of these would make the login an open redirect)."""
    return (
        (path == "/ui" or path.startswith("/ui/"))
        and "//" not in path
        and "\\" not in path
        and ".." not in path
    )


class UiSigner:
    """Signs and checks page links and session cookies under a key derived from the token."""

    def __init__(self, token: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(token.encode(), _PURPOSE_KEY, hashlib.sha256).digest()
        self._now = clock

    def _sign(self, purpose: str, *parts: str) -> str:
        message = "\n".join((purpose, *parts)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def link_query(self, to: str, ttl_s: int = LINK_TTL_S) -> str:
        """The query string of a login link to page `to` (a /ui path)."""
        if not is_page_path(to.split("?", 1)[0]):
            raise ValueError(f"a page link must point under /ui/, got {to!r}")
        exp = str(int(self._now()) + ttl_s)
        return urlencode({"to": to, "exp": exp, "sig": self._sign("link", to, exp)})

    def link_ok(self, to: str, exp: str, sig: str) -> bool:
        """True for a link this key signed that has not expired."""
        if not exp.isdigit() or int(exp) < self._now():
            return False
        return hmac.compare_digest(sig.encode(), self._sign("link", to, exp).encode())

    def session_value(self, ttl_s: int = COOKIE_TTL_S) -> str:
        """A fresh session cookie value."""
        exp = str(int(self._now()) + ttl_s)
        return f"{exp}.{self._sign('session', exp)}"

    def session_ok(self, cookie_header: str | None) -> bool:
        """True when the Cookie header carries a live session this key signed."""
        for part in (cookie_header or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name != COOKIE_NAME:
                continue
            exp, _, sig = value.partition(".")
            if (
                exp.isdigit()
                and int(exp) >= self._now()
                and hmac.compare_digest(sig.encode(), self._sign("session", exp).encode())
            ):
                return True
        return False


def page_link(settings: Settings, base: str, path: str) -> str:
    """The address to open page `path` of the server at `base`: a signed login link when a
    token is set, else the page itself."""
    token = settings.server.http_token
    if token is None:
        return base + path
    return f"{base}{LOGIN_PATH}?{UiSigner(token.get_secret_value()).link_query(path)}"


def page_address(settings: Settings, path: str, *, shared_results: bool) -> str | None:
    """`page_link` on the HTTP server advertised in the data dir, or None when none runs, or
    when it is another process and cannot see this one's results (`shared_results`: both use
    one Redis result cache)."""
    server = running_server(settings.server.data_dir)
    if server is None or (server.pid != os.getpid() and not shared_results):
        return None
    return page_link(settings, server.url, path)
