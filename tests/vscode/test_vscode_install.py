"""`bybit-tester vscode install`: merging into empty and existing workspaces and user keybindings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import json5
import pytest
from typer.testing import CliRunner

from mcp_server.cli import app
from mcp_server.vscode_install import (
    RUN_TASK,
    Bundle,
    VSCodeInstallError,
    plan_user_keybindings,
    user_settings_dir,
)

runner = CliRunner()


def install(*args: str) -> Any:
    result = runner.invoke(app, ["vscode", "install", *args])
    # expected failures exit with code 2 and a message, never an uncaught exception
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def read(path: Path) -> Any:
    return json5.loads(path.read_text(encoding="utf-8"))


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_install_into_empty_workspace_then_again_is_idempotent(
    tmp_path: Path, bundle: Bundle
) -> None:
    result = install("--workspace", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert read(tmp_path / ".vscode" / "tasks.json") == bundle.tasks
    assert read(tmp_path / ".vscode" / "mcp.json") == bundle.mcp
    env = tmp_path / ".env"
    assert "DEEPSEEK_API_KEY" in env.read_text()
    assert env.stat().st_mode & 0o777 == 0o600  # it will hold keys
    assert (tmp_path / ".vscode" / "tasks.json").stat().st_mode & 0o044  # not 0600 like mkstemp
    before = snapshot(tmp_path)
    again = install("--workspace", str(tmp_path))
    assert again.exit_code == 0
    assert again.output.count("unchanged") == 2
    assert snapshot(tmp_path) == before  # not even rewritten


EXISTING_TASKS = """\
// my own tasks
{
  "version": "2.0.0",
  "tasks": [
    { "label": "lint", "type": "shell", "command": "make lint", }, // keep me
    /* an old copy of ours, to be replaced */
    { "label": "BST: demo backtest", "type": "shell", "command": "old demo" },
    { "label": "docs", "type": "shell", "command": "make docs" },
  ],
  "inputs": [ { "id": "mine", "type": "promptString", "description": "x" }, ],
}
"""

EXISTING_MCP = """\
{
  // another server
  "servers": { "github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/" }, },
}
"""


def test_install_merges_into_existing_jsonc_and_keeps_entries(
    tmp_path: Path, bundle: Bundle
) -> None:
    vscode = tmp_path / ".vscode"
    vscode.mkdir()
    (vscode / "tasks.json").write_text(EXISTING_TASKS)
    (vscode / "mcp.json").write_text(EXISTING_MCP)
    result = install("--workspace", str(tmp_path))
    assert result.exit_code == 0, result.output
    tasks = read(vscode / "tasks.json")
    labels = [t["label"] for t in tasks["tasks"]]
    # ours replaced in place (position kept), user tasks kept, the rest of ours appended
    assert labels[:3] == ["lint", "BST: demo backtest", "docs"]
    assert labels[3:] == [label for label in bundle.labels if label != "BST: demo backtest"]
    demo = tasks["tasks"][1]
    assert demo == next(t for t in bundle.tasks["tasks"] if t["label"] == "BST: demo backtest")
    assert tasks["inputs"][0]["id"] == "mine"
    mcp = read(vscode / "mcp.json")
    assert list(mcp["servers"]) == ["github", "bybitStrategyTester", "bybitStrategyTesterHttp"]
    # the comments cannot survive a rewrite, so the originals are backed up verbatim
    backups = sorted(p.name for p in vscode.glob("*.bak-*"))
    assert len(backups) == 2, backups
    assert (
        vscode / next(b for b in backups if b.startswith("tasks"))
    ).read_text() == EXISTING_TASKS
    assert "backed up" in result.output
    before = snapshot(tmp_path)
    assert install("--workspace", str(tmp_path)).exit_code == 0
    assert snapshot(tmp_path) == before  # idempotent: no rewrite, no new backup


def test_strict_json_is_merged_without_a_backup(tmp_path: Path) -> None:
    vscode = tmp_path / ".vscode"
    vscode.mkdir()
    (vscode / "tasks.json").write_text(json.dumps({"version": "2.0.0", "tasks": []}))
    assert install("--workspace", str(tmp_path)).exit_code == 0
    assert not list(vscode.glob("*.bak-*"))


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    vscode = tmp_path / ".vscode"
    vscode.mkdir()
    (vscode / "tasks.json").write_text(EXISTING_TASKS)
    user = tmp_path / "user"
    user.mkdir()
    before = snapshot(tmp_path)
    result = install(
        "--workspace", str(tmp_path), "--dry-run", "--user-keybindings", "--user-dir", str(user)
    )
    assert result.exit_code == 0, result.output
    assert f"+++ {vscode / 'tasks.json'}" in result.output
    assert '-    { "label": "BST: demo backtest", "type": "shell", "command": "old demo" },' in (
        result.output
    )
    assert "+++ " + str(user / "keybindings.json") in result.output
    assert "nothing was written" in result.output
    assert snapshot(tmp_path) == before


def test_invalid_jsonc_exits_2_with_a_message_and_loses_nothing(tmp_path: Path) -> None:
    vscode = tmp_path / ".vscode"
    vscode.mkdir()
    broken = '{ "version": "2.0.0", "tasks": [ { "label": "x" ] }'
    (vscode / "tasks.json").write_text(broken)
    before = snapshot(tmp_path)
    result = install("--workspace", str(tmp_path))
    assert result.exit_code == 2
    assert "tasks.json is not valid JSON" in result.output
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before  # mcp.json was not written either: plan first, then write


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"version": "0.1.0", "tasks": []}', "only 2.0.0"),
        ('{"tasks": {"label": "x"}}', '"tasks" must be a list'),
        ("[1, 2]", "JSON object"),
    ],
)
def test_wrong_shapes_exit_2(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".vscode").mkdir()
    (tmp_path / ".vscode" / "tasks.json").write_text(text)
    result = install("--workspace", str(tmp_path))
    assert result.exit_code == 2 and message in result.output, result.output


def test_unwritable_target_exits_2(tmp_path: Path) -> None:
    (tmp_path / ".vscode").write_text("a file where the folder should be")
    result = install("--workspace", str(tmp_path))
    assert result.exit_code == 2
    assert "cannot write" in result.output
    assert (tmp_path / ".vscode").read_text() == "a file where the folder should be"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_workspace_exits_2(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        result = install("--workspace", str(tmp_path))
    finally:
        tmp_path.chmod(0o755)
    assert result.exit_code == 2 and "cannot write" in result.output


def test_missing_workspace_exits_2(tmp_path: Path) -> None:
    result = install("--workspace", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "is not a directory" in result.output


USER_KEYS = """\
// Place your key bindings in this file to override the defaults
[
  { "key": "ctrl+shift+t", "command": "workbench.action.terminal.new" },
]
"""


def test_user_keybindings_merge_with_backup_keeps_comments(tmp_path: Path, bundle: Bundle) -> None:
    user = tmp_path / "user"
    user.mkdir()
    keys = user / "keybindings.json"
    keys.write_text(USER_KEYS)
    result = install("--workspace", str(tmp_path), "--user-keybindings", "--user-dir", str(user))
    assert result.exit_code == 0, result.output
    merged = read(keys)
    assert merged == [json5.loads(USER_KEYS)[0], *bundle.keybindings]
    assert keys.read_text().startswith("// Place your key bindings")  # appended as text
    (backup,) = user.glob("keybindings.json.bak-*")
    assert backup.read_text() == USER_KEYS
    before = snapshot(tmp_path)
    again = install("--workspace", str(tmp_path), "--user-keybindings", "--user-dir", str(user))
    assert again.exit_code == 0
    assert snapshot(tmp_path) == before  # no second backup, no rewrite


def test_user_keybindings_created_when_absent(tmp_path: Path, bundle: Bundle) -> None:
    user = tmp_path / "user"
    user.mkdir()
    result = install("--workspace", str(tmp_path), "--user-keybindings", "--user-dir", str(user))
    assert result.exit_code == 0, result.output
    assert read(user / "keybindings.json") == bundle.keybindings
    assert not list(user.glob("*.bak-*"))


def test_user_keybindings_replace_ours_and_respect_user_chords(
    tmp_path: Path, bundle: Bundle
) -> None:
    user = tmp_path / "user"
    user.mkdir()
    mine = {"key": "ctrl+alt+shift+8", "command": "editor.action.formatDocument"}
    stale = {"key": "ctrl+k ctrl+t", "command": RUN_TASK, "args": {"taskName": "BST: run tests"}}
    (user / "keybindings.json").write_text(json.dumps([stale, mine]))
    change = plan_user_keybindings(user, bundle)
    merged = json.loads(change.after)
    assert stale not in merged  # our binding for a label is replaced, not duplicated
    assert mine in merged  # the user's chord wins ...
    assert not any(b.get("args") == "BST: run tests" for b in merged)
    assert any("ctrl+alt+shift+8 is already bound" in n for n in change.notes)  # ... and we say so
    assert len(merged) == 1 + 8
    assert change.backup_wanted


def test_user_keybindings_need_an_existing_settings_folder(tmp_path: Path) -> None:
    result = install(
        "--workspace", str(tmp_path), "--user-keybindings", "--user-dir", str(tmp_path / "no")
    )
    assert result.exit_code == 2 and "--user-dir" in result.output
    assert not (tmp_path / ".vscode").exists()  # planned everything first: nothing written


def test_user_keybindings_that_are_not_a_list_are_refused(tmp_path: Path, bundle: Bundle) -> None:
    (tmp_path / "keybindings.json").write_text('{"key": "x"}')
    with pytest.raises(VSCodeInstallError, match="JSON list"):
        plan_user_keybindings(tmp_path, bundle)


def test_user_settings_dir_per_platform(tmp_path: Path) -> None:
    home = tmp_path
    assert user_settings_dir("linux", {}, home) == home / ".config" / "Code" / "User"
    assert user_settings_dir("linux", {"XDG_CONFIG_HOME": "/x"}, home) == Path("/x/Code/User")
    assert user_settings_dir("darwin", {}, home) == (
        home / "Library" / "Application Support" / "Code" / "User"
    )
    assert user_settings_dir("win32", {"APPDATA": "C:/Users/u/AppData/Roaming"}, home) == Path(
        "C:/Users/u/AppData/Roaming/Code/User"
    )
