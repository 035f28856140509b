"""The HTTP app's gate: body limit, DNS-rebinding allowlists and bearer auth, in one pure-ASGI
middleware (not BaseHTTPMiddleware, so streamed MCP responses pass through untouched).

In order:
1. unknown Host -> 421, unknown Origin -> 403 (every route, not only /mcp);
2. bearer token (BST_HTTP_TOKEN) on everything but /health when a token is set -> 401;
   the admin API (`ADMIN_PREFIX`) is left to its own credentials (see `admin`); the web
   pages (/ui/*) also take the session cookie of a signed link, and the link's own route
   checks its signature (see `mcp_server.ui_links`);
3. a body above BST_MAX_BODY_BYTES -> 413: a declared Content-Length above it is refused at
   once, and every body (declared or chunked, or both) is read up to the limit before the app
   sees it, so no header can talk the guard out of counting;
4. `/mcp` is served as `/mcp/` (no redirect a client might not follow).
"""

from __future__ import annotations

import fnmatch
import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.errors import StartupError
from mcp_server.http._ui_html import signin_page
from mcp_server.settings import Settings, is_loopback
from mcp_server.telemetry import Telemetry
from mcp_server.ui_links import LOGIN_PATH, UiSigner, is_page_path

__all__ = ["ADMIN_PREFIX", "Guard", "check_bind"]

ADMIN_PREFIX = "/api/v1/admin/"
_OPEN = ("/health", "/favicon.ico")  # no data behind them: no token asked
_API_401 = "Unauthorized: send Authorization: Bearer <BST_HTTP_TOKEN>"
_PAGE_401 = (
    "Unauthorized: open this page through a signed link (`bybit-tester ui-link PAGE`, or POST "
    "/api/v1/ui/links with Authorization: Bearer <BST_HTTP_TOKEN>)"
)
_PAGE_API = "/ui/api/"  # under /ui but called by a view's script: its errors stay text


def check_bind(settings: Settings, host: str) -> None:
    """Refuse a non-loopback bind without a token: the tools would be open to the network."""
    if not is_loopback(host) and settings.server.http_token is None:
        raise StartupError(
            f"refusing to listen on {host} without a bearer token; set BST_HTTP_TOKEN "
            "(clients then send an Authorization header), or bind to 127.0.0.1"
        )


def _match(value: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


class Guard:
    """See the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        telemetry: Telemetry,
        hosts: list[str],
        origins: list[str],
        token: str | None,
        max_body: int,
        routes: frozenset[str] = frozenset(),
        ui: UiSigner | None = None,
    ) -> None:
        self.app = app
        self.ui = ui
        self.routes = routes
        self.telemetry = telemetry
        self.hosts = hosts
        self.origins = origins
        self.token = token
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope.get("path", "")
        route = self._route(path)
        refusal = self._refusal(headers, path)
        if refusal is not None:
            await self._reject(send, route, *refusal)
            return
        if path == "/mcp":
            scope = {**scope, "path": "/mcp/", "raw_path": b"/mcp/"}
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await self._reject(send, route, 413, f"Request body above {self.max_body} bytes")
            return
        if scope.get("method") not in ("GET", "HEAD"):
            buffered = await self._read_body(receive)
            if buffered is None:
                await self._reject(send, route, 413, f"Request body above {self.max_body} bytes")
                return
            receive = _replay(buffered, receive)
        await self.app(scope, receive, self._counting(send, route))

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Host and Origin as for HTTP (a refused handshake gets 403); the route checks the
        token itself, since a browser can send it only in the URL or a first message."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        route = self._route(scope.get("path", ""))
        origin = headers.get("origin")
        if not _match(headers.get("host", ""), self.hosts) or (
            origin is not None and not _match(origin, self.origins)
        ):
            self.telemetry.http_requests.labels(route, "403").inc()
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)

    def _route(self, path: str) -> str:
        """The telemetry label: a known route or `other` (raw paths would let any client
        grow the metrics without bound)."""
        if path.startswith("/mcp"):
            return "/mcp"
        if path in self.routes:
            return path
        # one label for every result page: their ids are unbounded too
        return "/ui" if is_page_path(path) else "other"

    def _refusal(self, headers: dict[str, str], path: str) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        if not _match(headers.get("host", ""), self.hosts):
            return 421, "Misdirected Request: Host not allowed", []
        origin = headers.get("origin")
        if origin is not None and not _match(origin, self.origins):
            return 403, "Forbidden: Origin not allowed", []
        if self.token is not None and path not in _OPEN and not path.startswith(ADMIN_PREFIX):
            if self._page_session(headers, path):
                return None
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                challenge = [(b"www-authenticate", b'Bearer realm="bybit-strategy-tester"')]
                if is_page_path(path) and not path.startswith(_PAGE_API):
                    body, headers = signin_page(path)
                    return 401, body, challenge + _raw(headers)
                return 401, _PAGE_401 if is_page_path(path) else _API_401, challenge
        return None

    def _page_session(self, headers: dict[str, str], path: str) -> bool:
        """A web page opened with a signed link's session cookie (or the link itself, whose
        route checks the signature): never the REST API or /mcp."""
        if self.ui is None or not is_page_path(path):
            return False
        return path == LOGIN_PATH or self.ui.session_ok(headers.get("cookie"))

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        """The request's body messages, or None once they pass the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > self.max_body:
                return None
            if not message.get("more_body", False):
                return messages

    def _counting(self, send: Send, route: str) -> Send:
        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.telemetry.http_requests.labels(route, str(message["status"])).inc()
            await send(message)

        return counting

    async def _reject(
        self, send: Send, route: str, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.telemetry.http_requests.labels(route, str(status)).inc()
        body = text.encode()
        extra = extra or []
        head = [(b"content-length", str(len(body)).encode())]
        if not any(k == b"content-type" for k, _ in extra):
            head.append((b"content-type", b"text/plain; charset=utf-8"))
        await send({"type": "http.response.start", "status": status, "headers": [*head, *extra]})
        await send({"type": "http.response.body", "body": body})


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the buffered messages first, then the live channel."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
