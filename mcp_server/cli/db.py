"""`bybit-tester db upgrade|downgrade|current`: the results catalog's schema (Alembic).

The server migrates an empty or older catalog itself at start (BST_DB_AUTO_UPGRADE);
these commands are for doing it by hand, going back, and checking where a database is.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mcp_server.cli._app import app
from mcp_server.cli._catalog import cli_catalog
from mcp_server.cli._errors import EXIT_USAGE, error_line

__all__ = ["db_app"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

db_app = typer.Typer(help="The results database: schema upgrade, downgrade, current.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _move(catalog: Any, revision: str, *, down: bool) -> Any:
    from alembic.util import CommandError

    try:
        return catalog.migrate(revision, down=down)
    except CommandError as exc:  # a revision alembic cannot find or reach
        raise typer.BadParameter(f"revision {revision!r}: {exc}") from None


def _migrate(revision: str, *, down: bool, as_json: bool) -> None:
    with cli_catalog(err) as catalog:
        state = _move(catalog, revision, down=down)
        body = _state_body(catalog, state)
    err.print(f"catalog at {body['database']}: revision {state.current or '(none)'}")
    _report(body, as_json)


def _state_body(catalog: Any, state: Any) -> dict[str, Any]:
    return {"database": catalog.where, "dialect": catalog.dialect, "current": state.current,
            "head": state.head, "up_to_date": state.up_to_date, "newer": state.newer}  # fmt: skip


def _report(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(body))
        return
    table = Table("database", "current", "head", "state", show_header=True)
    if body["newer"]:
        state = "newer than this version (upgrade bybit-strategy-tester)"
    elif body["up_to_date"]:
        state = "up to date"
    elif body["current"] is None:
        state = "empty (run `bybit-tester db upgrade`)"
    else:
        state = "older (run `bybit-tester db upgrade`)"
    table.add_row(body["database"], body["current"] or "(none)", body["head"], state)
    out.print(table)


_JSON = Annotated[bool, typer.Option("--json", help="One JSON object")]


@db_app.command("upgrade")
def upgrade_cmd(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head", as_json: _JSON = False
) -> None:
    """Migrate the catalog up to REVISION (default: the newest)."""
    _migrate(revision, down=False, as_json=as_json)


@db_app.command("downgrade")
def downgrade_cmd(
    revision: Annotated[str, typer.Argument(help="Target revision; `base` drops every catalog table")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: a downgrade deletes data")] = False,
    as_json: _JSON = False,
) -> None:
    """Migrate the catalog down to REVISION (needs --yes: what the dropped revisions added,
    tables and their rows, is deleted)."""
    if not yes:
        error_line(f"a downgrade to {revision!r} deletes what the later revisions hold (with "
                   "`base`: every stored run, optimisation and job); add --yes to go on", err)  # fmt: skip
        raise typer.Exit(EXIT_USAGE)
    _migrate(revision, down=True, as_json=as_json)


@db_app.command("current")
def current_cmd(as_json: _JSON = False) -> None:
    """Where the catalog is: its database (no password), current and newest revision."""
    with cli_catalog(err) as catalog:
        body = _state_body(catalog, catalog.state())
    _report(body, as_json)
