"""`bybit-mcp`: the MCP server over stdio (what VS Code, Claude Desktop and Cursor launch).

stdout carries JSON-RPC only: logs go to stderr as JSON lines, and nothing here prints.
"""

from __future__ import annotations

import logging

from mcp_server.logs import configure_logging
from mcp_server.server import build_server
from mcp_server.settings import Settings

__all__ = ["main", "serve_stdio"]

log = logging.getLogger("mcp_server.stdio")


def serve_stdio(settings: Settings | None = None) -> None:
    """Serve on stdin/stdout until the client closes the pipe."""
    settings = settings or Settings()
    configure_logging(settings.server.log_level, settings.secrets())
    server, _ = build_server(settings)
    log.info("serving MCP over stdio", extra={"toolsets": ",".join(settings.server.toolsets)})
    server.run("stdio")


def main() -> None:
    """Entry point of the `bybit-mcp` script."""
    serve_stdio()


if __name__ == "__main__":
    main()
