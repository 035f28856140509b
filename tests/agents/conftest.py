"""Fixtures: one fake provider server per session (uvicorn on loopback), routers against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from agents_testkit import MakeRouter, loopback_config
from servers_testkit import ProviderServer

from agents import MCPRouter, RouterConfig
from agents.fake_providers import FakeProviders


@pytest.fixture(scope="session")
def _server() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


@pytest.fixture
def server(_server: ProviderServer) -> ProviderServer:
    _server.app.reset()
    return _server


@pytest.fixture
def fake(server: ProviderServer) -> FakeProviders:
    return server.app


@pytest.fixture
async def make_router(server: ProviderServer) -> AsyncIterator[MakeRouter]:
    made: list[MCPRouter] = []

    def make(config: RouterConfig | None = None, **kw: Any) -> MCPRouter:
        cfg = config or loopback_config(server.deepseek_url, server.perplexity_url, **kw)
        router = MCPRouter(cfg)
        made.append(router)
        return router

    yield make
    for router in made:
        await router.aclose()
