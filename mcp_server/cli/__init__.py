"""`bybit-tester` command line.

Each command group lives in its own module and registers itself on the shared
Typer app when imported here.
"""

from __future__ import annotations

from mcp_server.cli import agents as _agents  # noqa: F401
from mcp_server.cli import backtest as _backtest  # noqa: F401
from mcp_server.cli import data as _data  # noqa: F401
from mcp_server.cli import db as _db  # noqa: F401
from mcp_server.cli import fake_bybit as _fake_bybit  # noqa: F401
from mcp_server.cli import jobs as _jobs  # noqa: F401
from mcp_server.cli import live as _live  # noqa: F401
from mcp_server.cli import optimize as _optimize  # noqa: F401
from mcp_server.cli import runs as _runs  # noqa: F401
from mcp_server.cli import serve as _serve  # noqa: F401
from mcp_server.cli import ui as _ui  # noqa: F401
from mcp_server.cli import vscode as _vscode  # noqa: F401
from mcp_server.cli import worker as _worker  # noqa: F401
from mcp_server.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `bybit-tester` script."""
    app()
