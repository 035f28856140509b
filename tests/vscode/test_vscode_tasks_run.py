"""Every task's command line really runs: inputs take their defaults (or a smaller value),
`uv run` points at this checkout, and long-running commands (servers, the test suite)
get `--help` or a protocol handshake instead of running for ever."""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import typer

from mcp_server.vscode_install import Bundle

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 180

# label -> how the test runs it. Every task must be listed (see the guard below).
HELP = "help"  # append --help: parses the options, starts nothing long-running
REAL = "real"  # run it for real, with the input overrides given
STDIO = "stdio"  # start it and complete an MCP initialize handshake
PLAN: dict[str, tuple[str, dict[str, str]]] = {
    "BST: serve MCP (stdio)": (STDIO, {}),
    "BST: serve MCP (HTTP 127.0.0.1:8000)": (HELP, {}),
    "BST: demo backtest": (REAL, {}),
    "BST: backtest (prompted)": (REAL, {"bst-bars": "2000"}),
    "BST: fetch market data": (REAL, {"bst-source": "fake", "bst-days": "1"}),
    # a real run on 2,000 bars: --help would not notice a missing required option
    "BST: optimise grid": (REAL, {"bst-bars": "2000"}),
    "BST: analyse last backtest": (REAL, {}),
    "BST: run tests": (HELP, {}),
    "BST: start job worker": (HELP, {}),
}
# Extra arguments that only shorten a real run.
EXTRA = {"BST: demo backtest": ["--bars", "2000"]}

pytestmark = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")


def cli_commands() -> set[str]:
    from mcp_server.cli import app

    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


def substitute(value: str, inputs: Mapping[str, str], workspace: Path) -> str:
    value = value.replace("${workspaceFolder}", str(workspace))
    return re.sub(r"\$\{input:([^}]+)\}", lambda m: inputs[m.group(1)], value)


def input_values(bundle: Bundle, overrides: Mapping[str, str]) -> dict[str, str]:
    values = {i["id"]: str(i.get("default", "")) for i in bundle.tasks["inputs"]}
    values.update(overrides)
    return values


def command_line(task: dict[str, Any], values: Mapping[str, str], workspace: Path) -> list[str]:
    """The argv VS Code would run (on Linux), with `uv run` aimed at this checkout."""
    into_repo = ["--no-sync", "--project", str(REPO)]  # the shared venv, never re-synced
    if task["type"] == "process":
        args = [substitute(a, values, workspace) for a in task.get("args", [])]
        assert task["command"] == "uv" and args[0] == "run"
        return ["uv", "run", *into_repo, *args[1:]]
    line = substitute(task["command"], values, workspace)
    line = line.replace("uv run ", "uv run " + " ".join(map(shlex.quote, into_repo)) + " ")
    return ["bash", "-c", line]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspace")


def run_env(workspace: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BST_DATA_DIR=str(workspace / "data"),
        ROUTER_CACHE_DIR=str(workspace / "router"),
        DEEPSEEK_API_KEY="",  # the offline analyst: no network, no cost
        PERPLEXITY_API_KEY="",
        NO_COLOR="1",
    )
    return env


def run(argv: list[str], workspace: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv,
        cwd=workspace,
        env=run_env(workspace),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{argv}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


def test_every_task_has_a_run_plan(bundle: Bundle) -> None:
    assert set(PLAN) == set(bundle.labels)


def task_by_label(bundle: Bundle, label: str) -> dict[str, Any]:
    return next(t for t in bundle.tasks["tasks"] if t["label"] == label)


def needs_command(task: dict[str, Any]) -> None:
    """Skip, naming the command, when a CLI command another issue is building is not there yet."""
    words = task.get("args") or task["command"].split()
    words = words[1:] if words[0] == "run" else words
    if "bybit-tester" in words:
        name = words[words.index("bybit-tester") + 1]
        if name not in cli_commands():
            pytest.skip(f"`bybit-tester {name}` does not exist yet (being built in another issue)")


@pytest.mark.parametrize("label", [k for k, (mode, _) in PLAN.items() if mode == HELP])
def test_help_tasks_parse_their_options(bundle: Bundle, workspace: Path, label: str) -> None:
    task = task_by_label(bundle, label)
    needs_command(task)
    argv = command_line(task, input_values(bundle, PLAN[label][1]), workspace)
    done = run([*argv, "--help"], workspace)
    assert "Usage" in done.stdout or "usage" in done.stdout


def test_demo_task_runs(bundle: Bundle, workspace: Path) -> None:
    label = "BST: demo backtest"
    task = task_by_label(bundle, label)
    argv = command_line(task, input_values(bundle, {}), workspace) + EXTRA[label]
    done = run(argv, workspace)
    assert "Total return" in done.stdout
    assert (workspace / "demo_equity.png").stat().st_size > 1000


def test_backtest_task_writes_json_then_analyse_task_reads_it(
    bundle: Bundle, workspace: Path
) -> None:
    label = "BST: backtest (prompted)"
    task = task_by_label(bundle, label)
    done = run(command_line(task, input_values(bundle, PLAN[label][1]), workspace), workspace)
    assert "Saved .bst/last-backtest.json" in done.stdout
    result = json.loads((workspace / ".bst" / "last-backtest.json").read_text())
    assert result["bars"] == 2000 and result["strategy"] == "ema_cross"
    assert "sharpe" in result["metrics"]

    analyse = task_by_label(bundle, "BST: analyse last backtest")
    answer = run(command_line(analyse, input_values(bundle, {}), workspace), workspace)
    assert answer.stdout.strip()
    assert "agent=local" in answer.stderr  # no keys: the offline analyst answered


def test_fetch_task_runs_against_the_fake_exchange(bundle: Bundle, workspace: Path) -> None:
    label = "BST: fetch market data"
    task = task_by_label(bundle, label)
    needs_command(task)
    done = run(command_line(task, input_values(bundle, PLAN[label][1]), workspace), workspace)
    assert "BTCUSDT 15" in done.stdout and "candles in the store" in done.stdout
    assert any((workspace / "data").rglob("*")), "the candles landed in BST_DATA_DIR"


def test_grid_task_runs_on_a_small_sample(bundle: Bundle, workspace: Path) -> None:
    label = "BST: optimise grid"
    task = task_by_label(bundle, label)
    needs_command(task)
    done = run(command_line(task, input_values(bundle, PLAN[label][1]), workspace), workspace)
    assert done.stdout.strip()


def test_stdio_task_answers_an_mcp_initialize(bundle: Bundle, workspace: Path) -> None:
    task = task_by_label(bundle, "BST: serve MCP (stdio)")
    argv = command_line(task, input_values(bundle, {}), workspace)
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "vscode-task-test", "version": "0"},
        },
    }
    proc = subprocess.Popen(
        argv,
        cwd=workspace,
        env=run_env(workspace),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        deadline = time.monotonic() + TIMEOUT
        line = ""
        while not line and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break  # EOF: the server died
        assert line, (
            f"no answer from {argv}; stderr:\n{proc.stderr.read() if proc.poll() is not None else ''}"
        )
        answer = json.loads(line)
        assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"]
        proc.stdin.close()  # the client going away ends a stdio server
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
