"""The Typer application every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

from mcp_server import __version__

app = typer.Typer(
    name="bybit-tester",
    help="Backtest and optimise trading strategies on Bybit data, offline or live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bybit-tester {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit"),
    ] = False,
) -> None:
    """Backtest and optimise trading strategies on Bybit data, offline or live."""
