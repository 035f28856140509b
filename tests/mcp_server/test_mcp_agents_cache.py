"""The router's recorded answers live in the server's cache, Redis included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from servers_testkit import ProviderServer

from agents import (
    DeepSeekConfig,
    MCPRouter,
    PerplexityConfig,
    RetryConfig,
    RouterConfig,
    RouterMode,
    TaskKind,
)
from market import MemoryCache, RedisCache
from mcp_server.cache import AgentsCache as AgentsCacheOnMarket

METRICS = {"sharpe": 1.4, "n_trades": 120, "profit_factor": 1.3, "max_drawdown": 0.18,
           "total_return": 0.35, "win_rate": 0.52, "exposure": 0.6, "fees_paid": 120.0}


@pytest.fixture(scope="module")
def providers() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


def _config(server: ProviderServer, mode: RouterMode) -> RouterConfig:
    retry = RetryConfig(attempts=2, wait_initial=0.001, wait_max=0.002)
    return RouterConfig(
        deepseek=DeepSeekConfig(api_key="test-key", base_url=server.deepseek_url),
        perplexity=PerplexityConfig(api_key="test-key", base_url=server.perplexity_url),
        mode=mode, retry=retry,
    )


async def _record_and_replay(server: ProviderServer, make_cache: Callable[[], Any]) -> None:
    async with MCPRouter(_config(server, RouterMode.RECORD), cache=AgentsCacheOnMarket(make_cache())) as r:
        recorded = await r.run(TaskKind.ANALYZE_BACKTEST, {"metrics": METRICS})
    assert recorded.agent == "deepseek"
    server.app.reset()
    # A new cache client (for Redis: a new connection, as a new server process) replays
    # the remote answer; the fake provider is not called again.
    async with MCPRouter(_config(server, RouterMode.REPLAY), cache=AgentsCacheOnMarket(make_cache())) as p:
        replayed = await p.run(TaskKind.ANALYZE_BACKTEST, {"metrics": METRICS})
    assert replayed.cached and replayed.agent == "deepseek"
    assert (replayed.text, replayed.output) == (recorded.text, recorded.output)
    assert server.app.calls("deepseek") == 0


async def test_router_cache_on_redis(providers: ProviderServer, redis_url: str) -> None:
    await _record_and_replay(providers, lambda: RedisCache(redis_url, prefix="bst-test-agents"))


async def test_router_cache_on_memory(providers: ProviderServer) -> None:
    shared = MemoryCache()
    await _record_and_replay(providers, lambda: shared)
