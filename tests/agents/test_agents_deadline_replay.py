"""Deadlines against a dripping server; cache keys; record/replay/offline determinism."""

from __future__ import annotations

import time

import pytest
from agents_testkit import GOOD_METRICS, MakeRouter, fast_retry, loopback_config
from servers_testkit import ProviderServer

from agents import (
    FileCache,
    MCPRouter,
    MemoryCache,
    ReplayMissError,
    RouterConfig,
    RouterMode,
    TaskKind,
    cache_key,
)
from agents.fake_providers import FakeProviders, Fault

TASK = {"metrics": GOOD_METRICS}


async def test_total_deadline_cuts_a_server_dripping_keep_alive_lines(
    server: ProviderServer, fake: FakeProviders, make_router: MakeRouter
) -> None:
    # The SDK read timeout (= deadline here) is reset by every newline; only asyncio.timeout stops it.
    fake.inject("deepseek", Fault.drip(3.0, interval=0.05), Fault.drip(3.0, interval=0.05))
    cfg = loopback_config(
        server.deepseek_url, server.perplexity_url, retry=fast_retry(attempts=2, deadline=0.4)
    )
    router = make_router(cfg)
    started = time.monotonic()
    result = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    elapsed = time.monotonic() - started
    assert result.agent == "perplexity"
    assert [a.error_class for a in result.attempts if a.agent == "deepseek"] == [
        "DeadlineExceeded"
    ] * 2
    assert elapsed < 2.5  # two 0.4 s deadlines, far below the 6 s the drips would take
    assert router.breaker("deepseek").snapshot().reason == "server"


async def test_slow_but_within_deadline_answers(
    server: ProviderServer, fake: FakeProviders, make_router: MakeRouter
) -> None:
    fake.inject("deepseek", Fault.drip(0.2, interval=0.05))
    result = await make_router().run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert result.agent == "deepseek"


def test_cache_key_excludes_secrets_and_is_order_independent() -> None:
    a = cache_key(
        "deepseek",
        "m",
        {
            "messages": [1],
            "api_key": "sk-1",
            "max_tokens": 5,
            "headers": {"Authorization": "Bearer x"},
        },
    )
    b = cache_key(
        "deepseek",
        "m",
        {
            "max_tokens": 5,
            "headers": {"Authorization": "Bearer y"},
            "api_key": "sk-2",
            "messages": [1],
        },
    )
    assert a == b
    assert cache_key("deepseek", "m", {"max_tokens": 6, "messages": [1]}) != a
    assert "sk-" not in a


async def test_record_then_replay_is_deterministic_without_network_or_keys(
    server: ProviderServer, fake: FakeProviders, make_router: MakeRouter
) -> None:
    store = MemoryCache()
    cfg = loopback_config(server.deepseek_url, server.perplexity_url, mode=RouterMode.RECORD)
    recorder = MCPRouter(cfg, cache=store)
    recorded = [
        await recorder.run(TaskKind.ANALYZE_BACKTEST, TASK),
        await recorder.run(TaskKind.INDICATOR_RESEARCH, {"indicator": "RSI"}),
    ]
    await recorder.aclose()
    calls = fake.calls("deepseek") + fake.calls("perplexity")
    # Replay with no keys and an unreachable base URL: only the cache can answer.
    replay_cfg = RouterConfig(mode=RouterMode.REPLAY, retry=fast_retry())
    async with MCPRouter(replay_cfg, cache=store) as player:
        for _ in range(2):
            replayed = [
                await player.run(TaskKind.ANALYZE_BACKTEST, TASK),
                await player.run(TaskKind.INDICATOR_RESEARCH, {"indicator": "RSI"}),
            ]
            for rec, rep in zip(recorded, replayed, strict=True):
                assert (rep.agent, rep.text, rep.output, rep.sources) == (
                    rec.agent,
                    rec.text,
                    rec.output,
                    rec.sources,
                )
                assert rep.cached and rep.cost_usd == 0.0
        with pytest.raises(ReplayMissError, match="ROUTER_MODE=record"):
            await player.run(
                TaskKind.ANALYZE_BACKTEST, {"metrics": {**GOOD_METRICS, "sharpe": 0.1}}
            )
    assert fake.calls("deepseek") + fake.calls("perplexity") == calls


async def test_replay_reproduces_a_recorded_local_fallback(
    server: ProviderServer, fake: FakeProviders
) -> None:
    store = MemoryCache()
    fake.inject("deepseek", Fault.http(402))
    fake.inject("perplexity", Fault.http(401))
    cfg = loopback_config(server.deepseek_url, server.perplexity_url, mode=RouterMode.RECORD)
    async with MCPRouter(cfg, cache=store) as recorder:
        rec = await recorder.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert (rec.agent, rec.degraded) == ("local", True)
    async with MCPRouter(RouterConfig(mode=RouterMode.REPLAY), cache=store) as player:
        rep = await player.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert (rep.agent, rep.degraded, rep.output) == ("local", True, rec.output)


async def test_offline_serves_recordings_and_sends_misses_to_local(
    tmp_path: object, server: ProviderServer
) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    store = FileCache(tmp_path / "cassettes")
    cfg = loopback_config(server.deepseek_url, server.perplexity_url, mode=RouterMode.RECORD)
    async with MCPRouter(cfg, cache=store) as recorder:
        rec = await recorder.run(TaskKind.CODE_REVIEW, {"code": "x = df.close.shift(-1)"})
    assert list((tmp_path / "cassettes").glob("*.json"))
    async with MCPRouter(
        RouterConfig(mode=RouterMode.OFFLINE), cache=FileCache(tmp_path / "cassettes")
    ) as off:
        hit = await off.run(TaskKind.CODE_REVIEW, {"code": "x = df.close.shift(-1)"})
        miss = await off.run(TaskKind.CODE_REVIEW, {"code": "y = 1"})
    assert (hit.agent, hit.cached, hit.output) == ("deepseek", True, rec.output)
    assert (miss.agent, miss.degraded) == ("local", False)
    assert miss.attempts[0].error_class == "CacheMiss"


async def test_live_mode_with_ttl_serves_repeats_from_cache(
    server: ProviderServer, fake: FakeProviders
) -> None:
    cfg = loopback_config(server.deepseek_url, server.perplexity_url, cache_ttl_s=60)
    async with MCPRouter(cfg) as router:
        first = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
        second = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert fake.calls("deepseek") == 1
    assert (first.cached, second.cached, second.text) == (False, True, first.text)


async def test_secrets_never_reach_results_or_cache(server: ProviderServer) -> None:
    store = MemoryCache()
    cfg = loopback_config(server.deepseek_url, server.perplexity_url, mode=RouterMode.RECORD)
    async with MCPRouter(cfg, cache=store) as router:
        result = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
        status = router.status()
    blob = result.model_dump_json() + status.model_dump_json() + repr(cfg)
    blob += "".join(str(v) for _, v in store.items())
    assert "test-key" not in blob
