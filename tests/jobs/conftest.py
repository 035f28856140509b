"""Fixtures of the job tests: the embedded service (one per process: Celery keeps worker
state in globals)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import market as M
from mcp_server.candles import CandleSource
from mcp_server.events import MemoryEventBus
from mcp_server.jobs import JobService
from mcp_server.settings import JobsSettings, ServerSettings, Settings


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobService]:
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings(
        ServerSettings(data_dir=data_dir, _env_file=None),  # type: ignore[call-arg]
        jobs=JobsSettings(broker_url="", _env_file=None),  # type: ignore[call-arg]
    )
    service = JobService(settings, MemoryEventBus())
    yield service
    service.close()


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> CandleSource:
    return CandleSource(M.CandleStore(tmp_path_factory.mktemp("store")), max_bars=None)
