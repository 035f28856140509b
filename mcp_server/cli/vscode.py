"""`bybit-tester vscode install`: our tasks, MCP servers and hotkeys into VS Code.

The merge logic lives in `mcp_server.vscode_install`; this module only turns
options into a plan, prints it (or its diff) and applies it.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from mcp_server.cli._app import app
from mcp_server.vscode_install import (
    FileChange,
    VSCodeInstallError,
    apply_change,
    load_bundle,
    plan_user_keybindings,
    plan_workspace,
    user_settings_dir,
)

vscode_app = typer.Typer(
    help="VS Code: install the BST tasks, hotkeys and MCP server configuration.",
    no_args_is_help=True,
)
app.add_typer(vscode_app, name="vscode")

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _describe(change: FileChange) -> str:
    if not change.changed:
        return f"unchanged  {change.path}"
    verb = "created" if change.before is None else "updated"
    backup = f" (backup: {change.backup})" if change.backup else ""
    return f"{verb:<10} {change.path}{backup}"


@vscode_app.command("install")
def install(
    workspace: Path = typer.Option(
        Path("."), "--workspace", help="Workspace folder to write .vscode/ into"
    ),
    user_keybindings: bool = typer.Option(
        False,
        "--user-keybindings",
        help="Also merge the 9 hotkeys into your user keybindings.json (backed up first)",
    ),
    user_dir: Path | None = typer.Option(
        None,
        "--user-dir",
        help="VS Code user settings folder (default: this platform's Code/User)",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the diff; write nothing"),
) -> None:
    """Write or merge .vscode/tasks.json and .vscode/mcp.json (and, optionally, user hotkeys)."""
    try:
        bundle = load_bundle()
        # plan every file before writing any, so bad input anywhere writes nothing
        changes = plan_workspace(workspace.expanduser(), bundle)
        if user_keybindings:
            folder = (user_dir or user_settings_dir()).expanduser()
            changes.append(plan_user_keybindings(folder, bundle))
        if dry_run:
            for change in changes:
                if change.changed:
                    out.print(change.diff(), markup=False, end="")
                else:
                    out.print(_describe(change), markup=False)
            out.print("[dim]dry run: nothing was written[/dim]")
        else:
            for change in changes:
                out.print(_describe(apply_change(change)), markup=False)
    except VSCodeInstallError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for change in changes:
        for note in change.notes:
            err.print(f"[yellow]note:[/yellow] {note}")
    if not user_keybindings:
        out.print(
            "hotkeys: VS Code reads keybindings only from your user settings; "
            "run again with --user-keybindings to add ctrl+alt+shift+1..8"
        )
