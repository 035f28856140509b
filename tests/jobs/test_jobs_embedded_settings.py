"""One embedded job worker per process: a second context with the same job settings
shares it, one with other job settings gets a clear error (what differs, how to fix it),
through the API and through an MCP tool, instead of silently the first one's settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mcp_server.context import AppContext
from mcp_server.errors import StartupError
from mcp_server.server import build_server
from mcp_server.settings import JobsSettings, ServerSettings, Settings


def _settings(data_dir: Path, **jobs: object) -> Settings:
    return Settings(
        ServerSettings(data_dir=data_dir, _env_file=None),  # type: ignore[call-arg]
        jobs=JobsSettings(broker_url="", _env_file=None, **jobs),  # type: ignore[arg-type]
    )


async def test_other_embedded_job_settings_are_a_clear_error(tmp_path: Path) -> None:
    first = AppContext(_settings(tmp_path / "a"), local=True)
    same = AppContext(_settings(tmp_path / "b"), local=True)
    assert first.jobs.embedded and same.jobs.app() is first.jobs.app()  # one runner, shared

    other = _settings(tmp_path / "c", embedded_workers=3, job_retry_delay=1.0)
    with pytest.raises(StartupError) as err:
        AppContext(other, local=True).jobs  # noqa: B018 - the property builds the service
    text = str(err.value)
    assert "BST_EMBEDDED_WORKERS=3 (running: 2)" in text
    assert "BST_JOB_RETRY_DELAY=1.0 (running: 5.0)" in text and "BST_JOB_TTL" not in text
    assert "BST_BROKER_URL" in text and "bybit-tester worker" in text

    server, _ = build_server(other)
    async with Client(server) as client:
        r = await client.call_tool("optimize_grid", {"bars": 2000, "params": {"fast": [5, 10]}})
    assert r.is_error and "BST_EMBEDDED_WORKERS=3" in r.content[0].text  # type: ignore[union-attr]
