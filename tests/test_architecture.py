"""The dependency direction and the public surfaces."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contract_holds() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


# The numba kernels are the known exception: their per-bar loops are written out on purpose
# (measured faster than helpers; see engine/_nb/backtest_nb.py).
_KERNELS = {("engine/_nb/backtest_nb.py", "simulate_nb")}
_PACKAGES = ("ohlcv", "engine", "market", "agents", "mcp_server", "tests", "bench")


def _sources() -> list[Path]:
    return [p for d in _PACKAGES for p in sorted((ROOT / d).rglob("*.py"))]


def test_modules_and_functions_stay_small() -> None:
    """No module over 600 lines and no function over 80 lines, outside the kernels."""
    too_big = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > 600:
            too_big.append(f"{rel}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80 and (rel, node.name) not in _KERNELS:
                    too_big.append(f"{rel}:{node.lineno} {node.name}() is {length} lines")
    assert not too_big, "split along a seam: " + "; ".join(too_big)
