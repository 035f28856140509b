"""The results catalog of a CLI command, with its errors as one line and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from mcp_server.cli._errors import cli_errors

__all__ = ["cli_catalog"]


@contextmanager
def cli_catalog(console: Console) -> Iterator[Any]:
    """The Catalog DATABASE_URL names (SQLite in BST_DATA_DIR when unset), closed after;
    a malformed or unreachable database is an `error:` line, never a traceback."""
    from mcp_server.catalog import open_catalog
    from mcp_server.settings import Settings

    with cli_errors(console):
        catalog = open_catalog(Settings())
        try:
            yield catalog
        finally:
            catalog.close()
