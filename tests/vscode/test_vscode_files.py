"""The shipped vscode/*.json files have the shapes VS Code expects and agree with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mcp_server.vscode_install import RUN_TASK, Bundle, parse_jsonc, referenced_inputs

REPO = Path(__file__).resolve().parents[2]

# Default chords of VS Code (Windows/Linux/macOS keyboard reference) and GitHub Copilot
# that our hotkeys must not shadow. Curated, not exhaustive: it covers every default
# that uses a digit or the ctrl+alt(+shift) modifier set we draw from.
DEFAULT_CHORDS = {
    *(f"ctrl+{d}" for d in range(10)),  # focus editor group N
    *(f"alt+{d}" for d in range(10)),  # Linux: open editor N
    *(f"cmd+{d}" for d in range(10)),  # macOS: focus editor group N
    *(f"ctrl+{d}" for d in range(10)),  # macOS: open editor N
    *(f"ctrl+k ctrl+{d}" for d in range(10)),  # fold level N
    *(f"cmd+k cmd+{d}" for d in range(10)),
    *(f"ctrl+alt+{d}" for d in range(10)),  # some layouts: AltGr digits
    "ctrl+alt+i",  # Copilot: open chat
    "ctrl+shift+alt+l",  # Copilot: quick chat
    "ctrl+i",  # Copilot: inline chat
    "ctrl+shift+i",  # Copilot: agent / chat view
    "alt+]",  # Copilot: next suggestion
    "alt+[",  # Copilot: previous suggestion
    "alt+\\",  # Copilot: trigger suggestion
    "ctrl+enter",  # Copilot: completions panel
    "ctrl+alt+enter",
    "ctrl+shift+alt+b",
    "ctrl+shift+b",  # run build task
    "ctrl+shift+alt+up",  # copy line / cursor (varies by OS)
    "ctrl+shift+alt+down",
}

TASK_TYPES = {"shell", "process"}
INPUT_TYPES = {"promptString", "pickString", "command"}


def chord(key: str) -> str:
    """Normalise modifier order and case: ctrl+shift+alt+1 == Alt+Ctrl+Shift+1."""
    parts = []
    for part in key.lower().split():
        *mods, last = part.split("+")
        parts.append("+".join([*sorted(mods), last]))
    return " ".join(parts)


def test_tasks_json_shape(bundle: Bundle) -> None:
    doc = bundle.tasks
    assert doc["version"] == "2.0.0"
    tasks = doc["tasks"]
    assert len(tasks) == 9
    labels = [t["label"] for t in tasks]
    assert len(set(labels)) == 9, f"duplicate labels: {labels}"
    for task in tasks:
        where = task["label"]
        assert where.startswith("BST: "), where
        assert task["type"] in TASK_TYPES, where
        assert isinstance(task["command"], str) and task["command"], where
        assert all(isinstance(a, str) for a in task.get("args", [])), where
        assert task["options"]["cwd"] == "${workspaceFolder}", where
        assert task["problemMatcher"] == [], where
        assert isinstance(task["detail"], str) and len(task["detail"]) > 10, where
        for os_name in ("windows", "linux", "osx"):
            override = task.get(os_name)
            if override and "options" in override:
                # whether VS Code merges or replaces options in an OS override, cwd must survive
                assert override["options"]["cwd"] == "${workspaceFolder}", where
        if task["type"] == "process":
            assert task["command"] == "uv" and task["args"][0] == "run", where
        else:
            assert "uv run bybit-tester " in task["command"], where


def test_tasks_inputs_defined_used_and_valid(bundle: Bundle) -> None:
    inputs = bundle.tasks["inputs"]
    ids = [i["id"] for i in inputs]
    assert len(set(ids)) == len(ids), f"duplicate input ids: {ids}"
    for item in inputs:
        assert item["type"] in INPUT_TYPES, item
        assert item["description"], item
        if item["type"] == "pickString":
            assert item["options"] and item["default"] in item["options"], item
    used = referenced_inputs(bundle.tasks["tasks"])
    assert used == set(ids), f"undefined: {used - set(ids)}, unused: {set(ids) - used}"


def test_strategy_and_interval_choices_match_the_engine(bundle: Bundle) -> None:
    import engine

    inputs = {i["id"]: i for i in bundle.tasks["inputs"]}
    assert set(inputs["bst-strategy"]["options"]) == set(engine.STRATEGIES)
    assert inputs["bst-strategy"]["default"] == "ema_cross"
    from mcp_server.candles import DEFAULT_INTERVAL
    from ohlcv import INTERVALS

    assert inputs["bst-interval"]["options"] == list(INTERVALS)  # every Bybit interval, in order
    assert inputs["bst-interval"]["default"] == DEFAULT_INTERVAL


def test_keybindings_run_existing_tasks_on_safe_unique_chords(bundle: Bundle) -> None:
    labels = set(bundle.labels)
    keys = bundle.keybindings
    assert len(keys) == 9
    for binding in keys:
        assert set(binding) == {"key", "command", "args"}, binding
        assert binding["command"] == RUN_TASK
        assert binding["args"] in labels, f"no task labelled {binding['args']!r}"
    assert {b["args"] for b in keys} == labels, "every task gets one hotkey"
    chords = [chord(b["key"]) for b in keys]
    assert len(set(chords)) == len(chords), f"duplicate chords: {chords}"
    assert sorted(chords) == [f"alt+ctrl+shift+{n}" for n in range(1, 10)]
    clashes = set(chords) & {chord(c) for c in DEFAULT_CHORDS}
    assert not clashes, f"chords that shadow VS Code/Copilot defaults: {clashes}"


def test_mcp_json_shape(bundle: Bundle) -> None:
    doc = bundle.mcp
    assert "mcpServers" not in doc, "VS Code reads `servers`; mcpServers is another format"
    servers = doc["servers"]
    for name in servers:
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", name), f"server names are camelCase: {name}"
    stdio = servers["bybitStrategyTester"]
    assert stdio["type"] == "stdio"
    assert stdio["command"] == "uv"
    assert stdio["args"] == ["--directory", "${workspaceFolder}", "run", "bybit-mcp"]
    assert stdio["envFile"] == "${workspaceFolder}/.env"
    assert stdio["env"] == {
        "DEEPSEEK_API_KEY": "${input:bst-deepseek-key}",
        "PERPLEXITY_API_KEY": "${input:bst-perplexity-key}",
    }
    http = servers["bybitStrategyTesterHttp"]
    assert http["type"] == "http"
    assert http["url"] == "http://127.0.0.1:8000/mcp"
    assert http["headers"] == {"Authorization": "Bearer ${input:bst-http-token}"}
    inputs = doc["inputs"]
    ids = [i["id"] for i in inputs]
    assert sorted(ids) == ["bst-deepseek-key", "bst-http-token", "bst-perplexity-key"]
    for item in inputs:
        assert item["type"] == "promptString" and item["password"] is True and item["description"]
    assert referenced_inputs(servers) == set(ids)


def test_http_task_serves_where_mcp_json_points_with_the_token(bundle: Bundle) -> None:
    (task,) = [t for t in bundle.tasks["tasks"] if "--transport" in t.get("args", [])]
    args = task["args"]
    host = args[args.index("--host") + 1]
    port = args[args.index("--port") + 1]
    assert bundle.mcp["servers"]["bybitStrategyTesterHttp"]["url"] == f"http://{host}:{port}/mcp"
    assert task["options"]["env"] == {"BST_HTTP_TOKEN": "${input:bst-http-token}"}
    token_input = next(i for i in bundle.tasks["inputs"] if i["id"] == "bst-http-token")
    assert token_input["password"] is True


@pytest.mark.parametrize("name", ["tasks.json", "keybindings.json", "mcp.json"])
def test_files_parse_as_strict_json_too(name: str) -> None:
    import json

    text = (REPO / "vscode" / name).read_text(encoding="utf-8")
    strict: Any = json.loads(text)  # plain JSON, so any tool can read them
    assert strict == parse_jsonc(text, Path(name))


def test_wheel_ships_the_files(bundle_dir: Path) -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"]["vscode"] == "mcp_server/vscode_files"
    # in a checkout (editable install) the loader uses the same folder the wheel copies
    assert bundle_dir == REPO / "vscode"


def test_docs_hotkey_table_matches_the_bindings(bundle: Bundle) -> None:
    doc = (REPO / "docs" / "vscode.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in doc.splitlines() if "| `ctrl+" in line}
    for binding in bundle.keybindings:
        assert binding["args"] in rows.get(binding["key"], ""), binding
