"""Every package's public surface, pinned in public_api.json: a name added or removed is a
decision, made there."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

PUBLIC: dict[str, list[str]] = json.loads((Path(__file__).parent / "public_api.json").read_text())


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_surface_is_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == PUBLIC[package]
    assert len(module.__all__) == len(set(module.__all__)), "a name is listed twice"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
