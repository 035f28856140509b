"""Fixtures for the VS Code integration tests: our three files, parsed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.vscode_install import Bundle, bundled_dir, load_bundle

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    return load_bundle(REPO / "vscode")


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    return bundled_dir()
