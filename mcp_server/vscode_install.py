"""Install our VS Code tasks, MCP servers and hotkeys into a workspace (and the user's keybindings).

The three source files live in the repository's ``vscode/`` folder; wheels carry
them as ``mcp_server/vscode_files/`` (a hatch ``force-include`` of the same
folder, so there is one copy to edit).

Merge rules, the same for every file: the existing file is read as JSON with
comments and trailing commas (what VS Code itself accepts); entries that are
not ours are kept where they are; ours are found by task label, server name,
input id or (for keybindings) the task label they run, and replaced in place
or appended. Running the install twice changes nothing the second time.

Nothing is lost: every file is planned (read, parsed, merged) before any is
written; each write is atomic (temporary file + ``os.replace``); a file whose
comments or trailing commas a rewrite would drop, and the user's keybindings
file whenever it changes, are first copied to ``<name>.bak-<timestamp>``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import json5

__all__ = [
    "RUN_TASK",
    "Bundle",
    "FileChange",
    "VSCodeInstallError",
    "apply_change",
    "bundled_dir",
    "load_bundle",
    "merge_keybindings",
    "merge_mcp",
    "merge_tasks",
    "parse_jsonc",
    "plan_user_keybindings",
    "plan_workspace",
    "referenced_inputs",
    "render_json",
    "user_settings_dir",
]

RUN_TASK = "workbench.action.tasks.runTask"
BUNDLED_NAMES = ("tasks.json", "keybindings.json", "mcp.json")

# envFile in mcp.json points at ${workspaceFolder}/.env; a workspace without one
# would make VS Code fail to start the stdio server, so we create a template.
ENV_TEMPLATE = """\
# Read by the MCP server (VS Code passes it via envFile in .vscode/mcp.json).
# Keys left empty: the AI tools use the offline analyst.
# DEEPSEEK_API_KEY=
# PERPLEXITY_API_KEY=
# BST_HTTP_TOKEN=
"""


class VSCodeInstallError(Exception):
    """Input we cannot install into; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Bundle:
    """Our three VS Code files, parsed."""

    tasks: dict[str, Any]
    keybindings: list[dict[str, Any]]
    mcp: dict[str, Any]

    @property
    def labels(self) -> list[str]:
        return [str(t["label"]) for t in self.tasks["tasks"]]


@dataclass(frozen=True)
class FileChange:
    """What installing does to one file: its text before (None: absent) and after."""

    path: Path
    before: str | None
    after: str
    backup_wanted: bool = False
    mode: int | None = None
    notes: tuple[str, ...] = ()
    backup: Path | None = field(default=None, compare=False)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        old = [] if self.before is None else self.before.splitlines(keepends=True)
        lines = difflib.unified_diff(
            old,
            self.after.splitlines(keepends=True),
            fromfile="/dev/null" if self.before is None else str(self.path),
            tofile=str(self.path),
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# -- the bundled files ----------------------------------------------------------


def bundled_dir() -> Path:
    """Where our files are: inside the installed package first, else the repository checkout."""
    packaged = Path(__file__).resolve().parent / "vscode_files"
    checkout = Path(__file__).resolve().parent.parent / "vscode"
    for candidate in (packaged, checkout):
        if all((candidate / name).is_file() for name in BUNDLED_NAMES):
            return candidate
    raise VSCodeInstallError(
        f"the VS Code files are missing (looked in {packaged} and {checkout}); reinstall the package"
    )


def load_bundle(directory: Path | None = None) -> Bundle:
    """Parse our tasks.json, keybindings.json and mcp.json."""
    base = directory or bundled_dir()
    tasks = _expect(parse_jsonc(_read(base / "tasks.json"), base / "tasks.json"), dict, base)
    keys = _expect(
        parse_jsonc(_read(base / "keybindings.json"), base / "keybindings.json"), list, base
    )
    mcp = _expect(parse_jsonc(_read(base / "mcp.json"), base / "mcp.json"), dict, base)
    return Bundle(tasks=tasks, keybindings=keys, mcp=mcp)


def _expect(value: Any, kind: type, where: Path) -> Any:
    if not isinstance(value, kind):
        raise VSCodeInstallError(f"{where}: expected a JSON {kind.__name__}")
    return value


# -- reading and parsing ----------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: Windows editors may add a BOM
    except UnicodeDecodeError:
        raise VSCodeInstallError(
            f"{path} is not UTF-8 text; save it as UTF-8 (or move it away) and run again"
        ) from None
    except OSError as exc:
        raise VSCodeInstallError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_optional(path: Path) -> str | None:
    if not path.exists():
        return None
    if not path.is_file():
        raise VSCodeInstallError(f"{path} exists but is not a file; move it away and run again")
    return _read(path)


def parse_jsonc(text: str, path: Path) -> Any:
    """JSON with comments and trailing commas, as VS Code reads its settings files."""
    if not text.strip():
        return None  # VS Code treats an empty settings file as absent
    try:
        return json5.loads(text)
    except ValueError as exc:
        raise VSCodeInstallError(
            f"{path} is not valid JSON (comments and trailing commas are fine): {exc}. "
            "Fix it or move it away, then run again; nothing was written."
        ) from None


def _is_strict_json(text: str | None) -> bool:
    if text is None or not text.strip():
        return True
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def render_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


# -- merging ----------------------------------------------------------------------


def _merge_list_by(
    existing: list[Any], ours: list[dict[str, Any]], key: str, what: str, path: Path
) -> list[Any]:
    """Replace entries whose ``key`` matches one of ours in place; append the rest of ours."""
    by_key = {entry[key]: entry for entry in ours}
    placed: set[Any] = set()
    merged: list[Any] = []
    for entry in existing:
        if not isinstance(entry, dict):
            raise VSCodeInstallError(f"{path}: every entry of {what} must be an object")
        mine = entry.get(key)
        if isinstance(mine, str) and mine in by_key:
            if mine not in placed:  # a duplicate of ours collapses into one
                merged.append(by_key[mine])
                placed.add(mine)
            continue
        merged.append(entry)
    merged.extend(entry for k, entry in by_key.items() if k not in placed)
    return merged


def _list_field(doc: dict[str, Any], name: str, path: Path) -> list[Any]:
    value = doc.get(name, [])
    if not isinstance(value, list):
        raise VSCodeInstallError(f'{path}: "{name}" must be a list')
    return value


def merge_tasks(existing: Any, ours: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Our tasks and their inputs merged into an existing tasks.json document."""
    doc: dict[str, Any] = {} if existing is None else existing
    if not isinstance(doc, dict):
        raise VSCodeInstallError(f"{path}: a tasks.json is a JSON object with a tasks list")
    version = doc.get("version", "2.0.0")
    if version != "2.0.0":
        raise VSCodeInstallError(
            f'{path} has "version": {version!r}; only 2.0.0 tasks files are supported '
            "(VS Code converts old ones when you open them)"
        )
    merged = {"version": "2.0.0", **{k: v for k, v in doc.items() if k != "version"}}
    merged["tasks"] = _merge_list_by(
        _list_field(doc, "tasks", path), ours["tasks"], "label", "tasks", path
    )
    merged["inputs"] = _merge_list_by(
        _list_field(doc, "inputs", path), ours.get("inputs", []), "id", "inputs", path
    )
    return merged


def merge_mcp(existing: Any, ours: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Our servers and inputs merged into an existing .vscode/mcp.json document."""
    doc: dict[str, Any] = {} if existing is None else existing
    if not isinstance(doc, dict):
        raise VSCodeInstallError(f"{path}: an mcp.json is a JSON object with servers")
    servers = doc.get("servers", {})
    if not isinstance(servers, dict):
        raise VSCodeInstallError(f'{path}: "servers" must be an object of name -> server')
    merged = dict(doc)
    merged["inputs"] = _merge_list_by(
        _list_field(doc, "inputs", path), ours.get("inputs", []), "id", "inputs", path
    )
    # dict update keeps the position of a server we replace and appends new ones
    merged["servers"] = {**servers, **ours["servers"]}
    return merged


def _chord(key: Any) -> str:
    """A key binding normalised so that modifier order and case do not matter."""
    parts = []
    for part in str(key).lower().split():
        mods = part.split("+")
        parts.append("+".join([*sorted(mods[:-1]), mods[-1]]))
    return " ".join(parts)


def _runs_label(entry: Mapping[str, Any], labels: set[str]) -> bool:
    if entry.get("command") != RUN_TASK:
        return False
    args = entry.get("args")
    if isinstance(args, dict):
        args = args.get("taskName")
    return isinstance(args, str) and args in labels


def merge_keybindings(
    existing: Any, ours: list[dict[str, Any]], path: Path
) -> tuple[list[Any], list[str]]:
    """Our bindings merged into a user keybindings list, and notes on chords we left alone.

    A chord the user already binds to something else keeps the user's binding:
    taking it over silently would break a habit, so we skip ours and say so.
    """
    current: list[Any] = [] if existing is None else existing
    if not isinstance(current, list):
        raise VSCodeInstallError(f"{path}: a keybindings file is a JSON list of bindings")
    labels = {str(b["args"]) for b in ours}
    kept = []
    for entry in current:
        if not isinstance(entry, dict):
            raise VSCodeInstallError(f"{path}: every keybinding must be an object")
        if not _runs_label(entry, labels):
            kept.append(entry)
    taken = {
        _chord(e.get("key")): e.get("command")
        for e in kept
        if not str(e.get("command", "")).startswith("-")  # "-cmd" removes a binding
    }
    notes: list[str] = []
    added = []
    for binding in ours:
        other = taken.get(_chord(binding["key"]))
        if other is not None:
            notes.append(
                f"{binding['key']} is already bound to {other} in {path}; "
                f"kept yours, so {binding['args']!r} has no hotkey (bind it yourself)"
            )
            continue
        added.append(binding)
    return kept + added, notes


def _append_entries_textually(text: str, entries: list[dict[str, Any]]) -> str | None:
    """Append entries before the closing ``]`` so the user's comments survive; None if unsure."""
    end = text.rstrip().rfind("]")
    if end < 0:
        return None
    head = text[:end].rstrip()
    # what precedes is "[" (empty list), "," (trailing comma) or the last entry
    sep = "" if head.endswith(("[", ",")) else ","
    body = ",\n".join("  " + json.dumps(e, ensure_ascii=False) for e in entries)
    return f"{head}{sep}\n{body}\n{text[end:]}"


# -- planning ---------------------------------------------------------------------


def plan_workspace(workspace: Path, bundle: Bundle | None = None) -> list[FileChange]:
    """What installing into ``workspace`` would write: .vscode/tasks.json, .vscode/mcp.json, .env."""
    bundle = bundle or load_bundle()
    if not workspace.is_dir():
        raise VSCodeInstallError(f"workspace {workspace} is not a directory")
    vscode = workspace / ".vscode"
    changes: list[FileChange] = []
    for name, merge, ours in (
        ("tasks.json", merge_tasks, bundle.tasks),
        ("mcp.json", merge_mcp, bundle.mcp),
    ):
        path = vscode / name
        before = _read_optional(path)
        existing = parse_jsonc(before, path) if before is not None else None
        merged = merge(existing, ours, path)
        # already installed: keep the file byte for byte (formatting, comments)
        after = before if before is not None and merged == existing else render_json(merged)
        lossy = not _is_strict_json(before) and before != after
        notes = (
            (f"{path}: comments and trailing commas are not kept; the original is backed up",)
            if lossy
            else ()
        )
        changes.append(FileChange(path, before, after, backup_wanted=lossy, notes=notes))
    env = workspace / ".env"
    if not env.exists():
        changes.append(
            FileChange(
                env,
                None,
                ENV_TEMPLATE,
                mode=0o600,
                notes=(
                    f"{env}: new, empty; VS Code passes it to the server (envFile): put your keys there",
                ),
            )
        )
    return changes


def user_settings_dir(
    platform: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path:
    """VS Code's user settings folder (where keybindings.json lives) on this platform."""
    platform = platform or sys.platform
    env = os.environ if environ is None else environ
    home = home or Path.home()
    if platform == "win32":
        base = Path(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:  # VS Code on Linux and the BSDs follows XDG_CONFIG_HOME
        base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return base / "Code" / "User"


def plan_user_keybindings(user_dir: Path, bundle: Bundle | None = None) -> FileChange:
    """Our hotkeys merged into ``user_dir/keybindings.json`` (backed up before it changes)."""
    bundle = bundle or load_bundle()
    if not user_dir.is_dir():
        raise VSCodeInstallError(
            f"no VS Code user settings folder at {user_dir}; start VS Code once, "
            "or pass --user-dir (e.g. for VS Code Insiders or VSCodium)"
        )
    path = user_dir / "keybindings.json"
    before = _read_optional(path)
    existing = parse_jsonc(before, path) if before is not None else None
    merged, notes = merge_keybindings(existing, bundle.keybindings, path)
    after = render_json(merged)
    if before is not None and isinstance(existing, list):
        if merged == existing:
            after = before  # nothing to do: leave the user's formatting alone
        elif merged[: len(existing)] == existing:
            # only additions: insert them as text so the user's comments survive
            text = _append_entries_textually(before, merged[len(existing) :])
            if text is not None and _parses_to(text, merged):
                after = text
    lossy = before is not None and after != before and not _is_strict_json(before)
    if lossy:
        notes.append(f"{path}: comments and trailing commas are not kept; see the backup")
    return FileChange(path, before, after, backup_wanted=before is not None, notes=tuple(notes))


def _parses_to(text: str, expected: Any) -> bool:
    try:
        return bool(json5.loads(text) == expected)
    except ValueError:
        return False


# -- writing ----------------------------------------------------------------------


def _backup_path(path: Path, now: Callable[[], datetime]) -> Path:
    stamp = now().strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while candidate.exists():  # two installs within one second must not overwrite a backup
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{n}")
        n += 1
    return candidate


def _atomic_write(path: Path, text: str, mode: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            shutil.copymode(path, tmp)  # keep the permissions the user gave the file
        else:  # mkstemp makes 0600; a new file gets the usual umask-based mode instead
            os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def apply_change(change: FileChange, now: Callable[[], datetime] = datetime.now) -> FileChange:
    """Write one planned change (backup first when wanted); returns it with ``backup`` set."""
    if not change.changed:
        return change
    backup = None
    try:
        if change.backup_wanted and change.before is not None:
            backup = _backup_path(change.path, now)
            shutil.copy2(change.path, backup)
        _atomic_write(change.path, change.after, change.mode)
    except OSError as exc:
        where = exc.filename or change.path
        raise VSCodeInstallError(
            f"cannot write {where}: {exc.strerror or exc}; {change.path} was left as it was"
        ) from None
    return replace(change, backup=backup)


_PLACEHOLDER = re.compile(r"\$\{input:([^}]+)\}")


def referenced_inputs(value: Any) -> set[str]:
    """Input ids a document refers to as ``${input:id}`` (for checks and tests)."""
    return set(_PLACEHOLDER.findall(json.dumps(value)))
