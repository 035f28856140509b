"""Expected failures become one line on stderr and an exit code from the error table,
never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from mcp_server.errors import EXIT_USAGE, describe, lookup

__all__ = ["EXIT_USAGE", "cli_errors", "error_line"]

_err = Console(stderr=True, soft_wrap=True)


def error_line(message: str, console: Console | None = None) -> None:
    """`error: ...` on one line whatever the terminal width (paths and lists stay whole)."""
    text = " ".join(message.split())
    (console or _err).print(f"[red]error:[/red] {escape(text)}", highlight=False, soft_wrap=True)


@contextmanager
def cli_errors(console: Console | None = None) -> Iterator[None]:
    """Print known errors as one `error: ...` line and exit with the table's code."""
    try:
        yield
    except typer.BadParameter as exc:
        error_line(str(exc), console)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as exc:
        error_line(f"{exc.strerror or exc}: {exc.filename or ''}", console)
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as exc:
        problem = lookup(exc)
        if problem is None:
            raise
        error_line(describe(exc), console)
        raise typer.Exit(problem.exit_code) from None
