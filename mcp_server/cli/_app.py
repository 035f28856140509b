"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="bybit-tester",
    help="Backtest and optimise trading strategies on Bybit data, offline or live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
