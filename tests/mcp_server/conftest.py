"""Fixtures for the MCP server tests: settings isolated from the environment, a fake Bybit,
an in-memory server and client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer
from mcp_testkit import make_settings

from market import FakeBybit, FakeBybitConfig, FakeInstrument, ServerThread
from mcp_server.server import build_server
from mcp_server.settings import Settings


@pytest.fixture(scope="session")
def fake_bybit() -> Iterator[str]:
    """A fake Bybit on loopback with a few days of history (wall clock)."""
    config = FakeBybitConfig(
        instruments=[
            FakeInstrument(symbol="BTCUSDT", history_days=5),
            FakeInstrument(symbol="ETHUSDT", base_coin="ETH", history_days=5),
        ]
    )
    server = ServerThread(FakeBybit(config).app).start()
    yield server.url
    server.stop()


@pytest.fixture
def settings(tmp_path: Path, fake_bybit: str) -> Settings:
    return make_settings(tmp_path, bybit_base_url=fake_bybit)


@pytest.fixture
def server(settings: Settings) -> MCPServer[Any]:
    """A fresh server; tests open `Client(server)` in their own task (anyio cancel scopes
    must exit in the task that entered them, which async fixtures do not guarantee)."""
    return build_server(settings)[0]
