"""Turn expected failures into one clear line and exit code 2, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from engine import EngineError
from market import MarketError
from mcp_server.datafiles import DataFileError

EXIT_USAGE = 2


@contextmanager
def cli_errors(console: Console) -> Iterator[None]:
    """Print expected errors as ``error: ...`` on stderr and exit with code 2."""
    try:
        yield
    except typer.BadParameter as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except (EngineError, DataFileError, MarketError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as exc:
        console.print(f"[red]error:[/red] {exc.strerror or exc}: {exc.filename or ''}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
