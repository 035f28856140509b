"""`bybit-tester serve`: the MCP server over stdio (default) or streamable HTTP."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import typer

from mcp_server.cli._app import app

if TYPE_CHECKING:
    from mcp_server.settings import Settings

log = logging.getLogger("mcp_server.serve")


def _check_catalog(settings: Settings) -> None:
    """Refuse to serve on a catalog that cannot keep the results: a malformed DATABASE_URL,
    a database that does not answer, a schema newer than this version (one line, the
    error table's exit code). An empty or older schema is migrated here, once."""
    from mcp_server.catalog import open_catalog
    from mcp_server.cli._errors import cli_errors

    with cli_errors():
        catalog = open_catalog(settings)
        try:
            catalog.open()
        finally:
            catalog.close()


@app.command("serve")
def serve(
    transport: str = typer.Option("stdio", "--transport", help="stdio or http"),
    host: str | None = typer.Option(
        None, "--host", help="HTTP bind address (default BST_HTTP_HOST)"
    ),
    port: int | None = typer.Option(None, "--port", help="HTTP port (default BST_HTTP_PORT)"),
) -> None:
    """Serve the MCP tools: stdio for editors, or HTTP (/mcp, /health, /metrics, REST)."""
    from mcp_server.logs import configure_logging
    from mcp_server.settings import Settings

    if transport not in ("stdio", "http"):
        raise typer.BadParameter(
            "use --transport stdio or --transport http", param_hint="--transport"
        )
    settings = Settings()
    configure_logging(settings.server.log_level, settings.secrets())
    _check_catalog(settings)
    if transport == "stdio":
        from mcp_server.stdio import serve_stdio

        serve_stdio(settings)
        return
    import uvicorn

    from mcp_server.errors import StartupError
    from mcp_server.http import build_http_app

    bind_host = host or settings.server.http_host
    bind_port = settings.server.http_port if port is None else port
    try:
        http_app = build_http_app(settings, host=bind_host, port=bind_port)
    except StartupError as exc:
        log.error("%s", exc)
        raise typer.Exit(2) from None
    from mcp_server.runfile import advertised, base_url

    log.info("serving MCP over HTTP", extra={"url": f"http://{bind_host}:{bind_port}/mcp"})
    # the run file tells a stdio server and the CLI where the web pages are (port 0: unknown)
    runfile = (
        advertised(settings.server.data_dir, base_url(bind_host, bind_port))
        if bind_port
        else contextlib.nullcontext()
    )
    with runfile:
        uvicorn.run(
            http_app,
            host=bind_host,
            port=bind_port,
            log_config=None,
            access_log=False,
            proxy_headers=False,
        )
