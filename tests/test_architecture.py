"""The dependency direction and the public surfaces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contract_holds() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


def test_engine_public_surface() -> None:
    import engine

    assert set(engine.__all__) <= set(dir(engine))
    for name in ("backtest", "run_grid", "sample_candles", "BacktestConfig", "METRIC_KEYS"):
        assert name in engine.__all__
