"""Cost from the price table (DeepSeek cache hit/miss), usage parsing, thinking mode, Perplexity payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from agents_testkit import GOOD_METRICS, MakeRouter

from agents import PriceTable, TaskKind, Usage
from agents.cost import compute_cost
from agents.fake_providers import FakeProviders
from agents.providers.deepseek import deepseek_usage

PEAK = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)  # Wednesday 07:00 UTC
OFFPEAK = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def test_deepseek_cost_bills_cache_hits_and_misses_separately() -> None:
    usage = Usage(
        prompt_tokens=1_000_000,
        completion_tokens=1_000_000,
        cache_hit_tokens=800_000,
        cache_miss_tokens=200_000,
    )
    peak = compute_cost("deepseek", "deepseek-flash", usage, PriceTable(), when=PEAK)
    assert peak == pytest.approx(0.8 * 0.006 + 0.2 * 0.30 + 1.20)
    off = compute_cost("deepseek", "deepseek-flash", usage, PriceTable(), when=OFFPEAK)
    assert off == pytest.approx(peak / 2)


def test_usage_split_from_cached_tokens_only() -> None:
    raw = SimpleNamespace(
        prompt_tokens=100,
        completion_tokens=10,
        model_extra={},
        prompt_tokens_details=SimpleNamespace(cached_tokens=64),
        completion_tokens_details=None,
    )
    u = deepseek_usage(raw)
    assert (u.cache_hit_tokens, u.cache_miss_tokens) == (64, 36)


def test_perplexity_reported_cost_wins() -> None:
    assert (
        compute_cost(
            "perplexity", "x", Usage(prompt_tokens=10**6, reported_cost_usd=0.0123), PriceTable()
        )
        == 0.0123
    )
    assert compute_cost("perplexity", "x", Usage(search_calls=2), PriceTable()) == pytest.approx(
        0.01
    )


async def test_deepseek_payload_thinking_json_mode_and_cost(
    make_router: MakeRouter, fake: FakeProviders
) -> None:
    router = make_router()
    plain = await router.run(TaskKind.ANALYZE_BACKTEST, {"metrics": GOOD_METRICS})
    body = fake.last_body("deepseek")
    assert body is not None
    assert body["model"] == "deepseek-flash" and body["thinking"] == {"type": "disabled"}
    assert (
        body["response_format"] == {"type": "json_object"}
        and "json" in body["messages"][0]["content"]
    )
    assert plain.reasoning is None and plain.usage.cache_hit_tokens > 0 and plain.cost_usd > 0
    review = await router.run(TaskKind.CODE_REVIEW, {"code": "x = 1"})
    body = fake.last_body("deepseek")
    assert body is not None
    assert (
        body["model"] == "deepseek-v4-pro"
        and body["thinking"] == {"type": "enabled"}
        and "temperature" not in body
    )
    assert review.reasoning and review.model == "deepseek-v4-pro"
    status = router.status()
    assert status.total_cost_usd == pytest.approx(plain.cost_usd + review.cost_usd)


async def test_perplexity_agent_api_payload_and_sources(
    make_router: MakeRouter, fake: FakeProviders
) -> None:
    result = await make_router().run(TaskKind.INDICATOR_RESEARCH, {"indicator": "RSI"})
    body = fake.last_body("perplexity")
    assert body is not None
    assert body["tools"][0]["type"] == "web_search"
    assert body["tools"][0]["filters"]["search_recency_filter"] == "year"
    assert body["tool_choice"] == {"type": "web_search"}
    assert result.agent == "perplexity" and result.cost_usd == pytest.approx(0.0071)
    assert result.sources[0].url.startswith("https://www.investopedia.com")
    assert result.untrusted and result.as_context().startswith('<untrusted source="perplexity">')


async def test_perplexity_legacy_sonar_style(
    server: object, fake: FakeProviders, make_router: MakeRouter
) -> None:
    from dataclasses import replace

    from agents_testkit import loopback_config
    from servers_testkit import ProviderServer

    assert isinstance(server, ProviderServer)
    cfg = loopback_config(server.deepseek_url, server.perplexity_url)
    cfg = replace(
        cfg,
        perplexity=replace(
            cfg.perplexity, api_style="sonar", model="sonar", search_domains=("arxiv.org",)
        ),
    )
    result = await make_router(cfg).ask("what is RSI?")
    body = fake.last_body("perplexity")
    assert body is not None and body["search_domain_filter"] == ["arxiv.org"]
    assert (
        result.agent == "perplexity" and result.sources and result.cost_usd == pytest.approx(0.0061)
    )
