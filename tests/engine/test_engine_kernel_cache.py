"""The kernels' on-disk cache is keyed by every module of engine/_nb, not just the kernel's own
file: an edit to an inlined helper must recompile the kernels that inline it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import engine._nb as nb
from engine._nb.backtest_nb import simulate_nb


def test_kernels_use_the_package_stamped_locator() -> None:
    locator = simulate_nb._cache._impl.locator  # numba internals: fails loudly if they move
    assert getattr(type(locator), "_engine_nb", False), type(locator)
    assert locator.get_source_stamp() == nb._package_stamp()


def test_stamp_changes_when_any_module_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for src in Path(nb.__file__).parent.glob("*.py"):
        shutil.copy(src, tmp_path / src.name)
    monkeypatch.setattr(nb, "_DIR", str(tmp_path))
    before = nb._package_stamp()
    helper = tmp_path / "orders_nb.py"
    helper.write_text(helper.read_text() + "\n# an edit to a helper, not to the kernel's file\n")
    assert nb._package_stamp() != before
