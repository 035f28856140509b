"""The MCP Inspector CLI against the stdio server: tools/list and a run_backtest call.

Installed by tests/mcp_server/install_inspector.sh (called from .ci/run). Without it the
test skips with the reason; with BST_REQUIRE_INSPECTOR=1 (CI) a missing inspector fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSPECTOR = ROOT / ".cache" / "inspector" / "node_modules" / ".bin" / "mcp-inspector"


def inspector() -> Path:
    if INSPECTOR.exists():
        return INSPECTOR
    reason = (
        f"MCP Inspector not installed at {INSPECTOR}; run tests/mcp_server/install_inspector.sh"
    )
    if os.environ.get("BST_REQUIRE_INSPECTOR") == "1":  # CI: a missing inspector is a failure
        pytest.fail(reason)
    pytest.skip(reason)


def run(tmp: Path, *args: str) -> dict[str, object]:
    cmd = [
        str(inspector()),
        "--cli",
        "-e",
        f"BST_DATA_DIR={tmp}",
        "-e",
        f"PYTHONPATH={ROOT}",
        sys.executable,
        "-m",
        "mcp_server.stdio",
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, timeout=120, cwd=str(tmp), check=False)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_inspector_lists_tools_and_calls_run_backtest(tmp_path: Path) -> None:
    listed = run(tmp_path, "--method", "tools/list")
    tools = {t["name"]: t for t in listed["tools"]}  # type: ignore[attr-defined]
    assert "run_backtest" in tools and "outputSchema" in tools["run_backtest"]
    assert tools["run_backtest"]["annotations"]["readOnlyHint"] is True
    called = run(
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "run_backtest",
        "--tool-arg",
        "bars=1000",
        "include_chart=false",
    )
    assert called.get("isError") in (None, False), called
    assert called["structuredContent"]["synthetic"] is True  # type: ignore[index]
