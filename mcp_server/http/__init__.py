"""The FastAPI app: MCP (streamable HTTP) at /mcp, /health, /metrics and the REST routes,
behind one guard (see `guard`). It holds the same `AppContext` as the MCP server it mounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings

from mcp_server import __version__
from mcp_server.context import AppContext
from mcp_server.http._events_consumer import running_event_consumer
from mcp_server.http.admin import add_admin_routes
from mcp_server.http.guard import Guard, check_bind
from mcp_server.http.jobs import add_job_routes
from mcp_server.http.live import add_live_routes
from mcp_server.http.routes import BacktestRequest, add_routes
from mcp_server.http.runs import add_run_routes
from mcp_server.http.ui import add_ui_routes
from mcp_server.server import build_server
from mcp_server.settings import Settings
from mcp_server.ui_links import UiSigner

__all__ = ["BacktestRequest", "build_http_app", "check_bind"]


def build_http_app(
    settings: Settings | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    context: AppContext | None = None,
) -> FastAPI:
    """The app with the MCP server mounted at /mcp (host/port set the Host allowlist)."""
    settings = settings or Settings()
    host = host or settings.server.http_host
    port = settings.server.http_port if port is None else port
    check_bind(settings, host)
    server, context = build_server(settings, context=context)
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
    shared = context

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with server.session_manager.run():  # mounted sub-app lifespans do not run
            await shared.enter()
            try:
                if settings.live.enabled:
                    await shared.live.start_for(shared.market())
                async with running_event_consumer(shared):
                    yield
            finally:
                await shared.live.stop()
                await shared.exit()

    app = FastAPI(
        title="bybit-strategy-tester", version=__version__, lifespan=lifespan,
        docs_url=None, redoc_url=None, openapi_url=None,
    )  # fmt: skip
    app.state.context = context
    routes = add_routes(app, context) | add_admin_routes(app, context) | add_job_routes(app, context)
    routes |= add_run_routes(app, context)
    app.mount("/mcp", mcp_app)
    token = settings.server.http_token.get_secret_value() if settings.server.http_token else None
    routes |= add_live_routes(app, context, token)
    signer = UiSigner(token) if token else None
    routes |= add_ui_routes(app, context, signer)
    app.add_middleware(
        Guard, telemetry=context.telemetry, hosts=hosts, origins=origins, token=token,
        max_body=settings.server.max_body_bytes, routes=routes, ui=signer,
    )  # fmt: skip
    return app
