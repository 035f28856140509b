"""Helpers shared by the MCP server tests."""

from __future__ import annotations

from pathlib import Path

from mcp_server.settings import RouterSettings, ServerSettings, Settings


def make_settings(tmp: Path, **server: object) -> Settings:
    """Settings that ignore the real environment and .env (no keys: the local analyst answers)."""
    base: dict[str, object] = {"data_dir": tmp / "store", "cache_url": "memory://"}
    base.update(server)
    return Settings(
        ServerSettings(_env_file=None, **base),  # type: ignore[call-arg]
        RouterSettings(_env_file=None, router_mode="live"),  # type: ignore[call-arg]
    )
