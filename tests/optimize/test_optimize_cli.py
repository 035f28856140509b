"""`bybit-tester optimize ...` end to end on small sample data."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mcp_server.cli import app

runner = CliRunner()
SMALL = ["--bars", "4000", "-p", "fast=5:20:5", "-p", "slow=30:60:10"]


def test_grid_json_and_heatmap(tmp_path: Path) -> None:
    png = tmp_path / "h.png"
    res = runner.invoke(app, ["optimize", "grid", *SMALL, "--json", "--top", "3",
                              "--heatmap", str(png), "--blocks", "4"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["evaluated"] == 16 and len(data["top"]) == 3
    assert data["overfit"]["pbo"]["n_blocks"] == 4
    assert png.read_bytes().startswith(b"\x89PNG")
    assert data["synthetic"] is True and data["provenance"] == "synthetic sample series (source='sample')"


def test_random_bayes_and_walk_forward_tables() -> None:
    for cmd in (["random", "--samples", "8"], ["bayes", "--trials", "8"]):
        res = runner.invoke(app, ["optimize", *cmd, *SMALL, "--no-overfit"])
        assert res.exit_code == 0, res.output
        assert "search ema_cross" in res.stdout
        assert "Synthetic sample series (source='sample'): not evidence" in res.stdout
    res = runner.invoke(app, ["optimize", "walk-forward", *SMALL, "--splits", "3"])
    assert res.exit_code == 0, res.output
    assert "Walk-forward efficiency" in res.stdout and "Stability of fast" in res.stdout
    assert "Synthetic sample series (source='sample'): not evidence" in res.stdout


def test_bad_input_is_one_clear_line_and_exit_2() -> None:
    cases = [
        (["grid", "-p", "fast=20:10"], "is empty"),
        (["grid", "-p", "fast=50:60", "-p", "slow=10:20"], "no combination"),
        (["grid", "-p", "fast"], "NAME="),
        (["grid", "-p", "fast=2:400", "-p", "slow=3:1500", "-p", "sl=0:0.05:0.01"], "allow-large"),
        (["walk-forward", "-p", "fast=5:6", "--bars", "300", "--splits", "200"], "cannot hold"),
        (["grid", "-p", "fast=5:6", "--objective", "sharp"], "choose from"),
    ]
    for args, message in cases:
        res = runner.invoke(app, ["optimize", *args])
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output.replace("\n", " "), (args, res.output)
        assert "Traceback" not in res.output
