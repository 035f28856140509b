"""The FastAPI app: MCP (streamable HTTP) at /mcp, /health, /metrics and the seeds' REST routes.

Security, in order of the middleware stack (outermost first):
1. body limit: a request whose Content-Length (or streamed body) exceeds BST_MAX_BODY_BYTES -> 413;
2. DNS-rebinding allowlists for every route: unknown Host -> 421, unknown Origin -> 403
   (the SDK checks /mcp too, but the REST routes need the same protection);
3. bearer token (BST_HTTP_TOKEN) on everything but /health when a token is set; the server
   refuses to start on a non-loopback host without one (see `check_bind`).
"""

from __future__ import annotations

import fnmatch
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse, Response
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.app import build_server
from mcp_server.errors import StartupError, to_tool_error
from mcp_server.marketdata import mtf_rows, working_rows
from mcp_server.settings import Settings, is_loopback
from mcp_server.state import AppState

__all__ = ["build_http_app", "check_bind"]

log = logging.getLogger("mcp_server.http")

_SEED_INTERVALS = {"1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W"}


def check_bind(settings: Settings, host: str) -> None:
    """Refuse a non-loopback bind without a token: the tools would be open to the network."""
    if not is_loopback(host) and settings.server.http_token is None:
        raise StartupError(
            f"refusing to listen on {host} without a token: set BST_HTTP_TOKEN "
            "(clients send 'Authorization: Bearer <token>'), or bind to 127.0.0.1"
        )


def _match(value: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


class Guard:
    """Body limit, Host/Origin allowlists and bearer auth as one pure-ASGI middleware.

    Pure ASGI (not BaseHTTPMiddleware) so streamed MCP responses pass through untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        state: AppState,
        hosts: list[str],
        origins: list[str],
        token: str | None,
        max_body: int,
    ) -> None:
        self.app = app
        self.state = state
        self.hosts = hosts
        self.origins = origins
        self.token = token
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope.get("path", "")
        route = "/mcp" if path.startswith("/mcp") else path
        host = headers.get("host", "")
        if not _match(host, self.hosts):
            await self._reject(send, route, 421, "Misdirected Request: Host not allowed")
            return
        origin = headers.get("origin")
        if origin is not None and not _match(origin, self.origins):
            await self._reject(send, route, 403, "Forbidden: Origin not allowed")
            return
        if self.token is not None and path != "/health":
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                await self._reject(
                    send,
                    route,
                    401,
                    "Unauthorized: send Authorization: Bearer <BST_HTTP_TOKEN>",
                    extra=[(b"www-authenticate", b'Bearer realm="bybit-strategy-tester"')],
                )
                return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await self._reject(send, route, 413, f"Request body above {self.max_body} bytes")
            return
        received = 0
        status_box: dict[str, int] = {}

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, limited_receive, counting_send)
        except _BodyTooLarge:
            if "status" not in status_box:
                await self._reject(send, route, 413, f"Request body above {self.max_body} bytes")
                return
        self.state.metrics.http_requests.labels(route, str(status_box.get("status", 0))).inc()

    async def _reject(
        self,
        send: Send,
        route: str,
        status: int,
        text: str,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.state.metrics.http_requests.labels(route, str(status)).inc()
        body = text.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    *(extra or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def build_http_app(
    settings: Settings | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    state: AppState | None = None,
) -> FastAPI:
    """FastAPI app with the MCP server mounted at /mcp (host/port set the Host allowlist)."""
    settings = settings or Settings()
    host = host or settings.server.http_host
    port = settings.server.http_port if port is None else port
    check_bind(settings, host)
    server, state = build_server(settings, state=state)
    hosts = settings.server.host_allowlist(port)
    if port == 0:  # any free port: the real one is unknown until bound
        hosts = [h.rsplit(":", 1)[0] + ":*" for h in hosts]
    origins = settings.server.origin_allowlist(port)
    # The SDK's own check stays on as a second line for /mcp (same lists, explicit, so a
    # non-loopback bind does not silently disable it).
    mcp_app = server.streamable_http_app(
        streamable_http_path="/",
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=hosts + [h.rsplit(":", 1)[0] + ":*" for h in hosts],
            allowed_origins=origins,
        ),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with server.session_manager.run():  # mounted sub-app lifespans do not run
            await state.enter()
            try:
                yield
            finally:
                await state.exit()

    app = FastAPI(
        title="bybit-strategy-tester",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.bst = state
    _routes(app, state)
    app.mount("/mcp", mcp_app)
    token = settings.server.http_token.get_secret_value() if settings.server.http_token else None
    app.add_middleware(
        Guard,
        state=state,
        hosts=hosts,
        origins=origins,
        token=token,
        max_body=settings.server.max_body_bytes,
    )
    return app


def _routes(app: FastAPI, state: AppState) -> None:
    started = time.time()

    async def market_call(fn: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await fn()
        except Exception as exc:
            mapped = to_tool_error(exc)
            if mapped is None:
                raise
            state.metrics.upstream_errors.labels("market", type(exc).__name__).inc()
            raise HTTPException(
                status_code=400
                if "Invalid" in type(exc).__name__ or "Unknown" in type(exc).__name__
                else 502,
                detail=str(mapped),
            ) from None

    @app.get("/health")
    async def health() -> JSONResponse:
        cache = await state.cache.health()
        store: dict[str, Any] = {"data_dir": str(state.settings.server.data_dir)}
        try:
            from market.store import CandleStore

            CandleStore(state.settings.server.data_dir).check_writable()
            store["ok"] = True
        except Exception as exc:  # health reports, never raises
            store.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:200])
        rc = state.settings.router.to_router_config()
        router = {
            "mode": rc.mode.value,
            "deepseek": rc.deepseek.configured,
            "perplexity": rc.perplexity.configured,
            "local": True,
        }
        ok = bool(cache.get("ok")) and bool(store.get("ok"))
        body = {
            "status": "ok" if ok else "degraded",
            "uptime_s": round(time.time() - started, 1),
            "toolsets": state.settings.server.toolsets,
            "store": store,
            "cache": cache,
            "router": router,
        }
        return JSONResponse(body)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/api/v1/marketdata/bybit/klines/working")
    async def klines_working(
        symbol: Annotated[str, Query(pattern=r"^[A-Za-z0-9]{2,24}$")],
        interval: str = "15",
        load_limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    ) -> list[dict[str, float | int]]:
        """The working set: the newest 500 closed candles (loaded once, then topped up)."""
        label = interval.strip().upper()
        if label not in _SEED_INTERVALS:
            raise HTTPException(400, f"interval must be one of {','.join(sorted(_SEED_INTERVALS))}")
        return await market_call(lambda: working_rows(state, symbol, label, load_limit))

    @app.get("/api/v1/marketdata/bybit/mtf")
    async def mtf(
        symbol: Annotated[str, Query(pattern=r"^[A-Za-z0-9]{2,24}$")],
        intervals: str = "1,15,60",
        base: str | None = None,
        aligned: Annotated[int, Query(ge=0, le=1)] = 1,
        load_limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    ) -> dict[str, Any]:
        """Several timeframes; aligned=1 resamples them from `base` (default the smallest)."""
        wanted = [i.strip().upper() for i in intervals.split(",") if i.strip()]
        if not wanted or len(wanted) > 8:
            raise HTTPException(400, "intervals: 1 to 8 comma-separated values, e.g. 1,15,60")
        data = await market_call(
            lambda: mtf_rows(
                state,
                symbol,
                wanted,
                base=base.strip().upper() if base else None,
                aligned=bool(aligned),
                load_limit=load_limit,
            )
        )
        return {"symbol": symbol.upper(), "intervals": list(data), "data": data}
