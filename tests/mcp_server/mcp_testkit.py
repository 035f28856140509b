"""Helpers shared by the MCP server tests."""

from __future__ import annotations

from pathlib import Path

from mcp_server.settings import CatalogSettings, RouterSettings, ServerSettings, Settings


def make_settings(tmp: Path, **server: object) -> Settings:
    """Settings that ignore the real environment and .env (no keys: the local analyst answers),
    with a results catalog of the test's own (the web index lists what it holds)."""
    base: dict[str, object] = {"data_dir": tmp / "store", "cache_url": "memory://"}
    base.update(server)
    return Settings(
        ServerSettings(_env_file=None, **base),  # type: ignore[call-arg]
        RouterSettings(_env_file=None, router_mode="live"),  # type: ignore[call-arg]
        catalog=CatalogSettings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/catalog.sqlite3"),  # type: ignore[call-arg]
    )
