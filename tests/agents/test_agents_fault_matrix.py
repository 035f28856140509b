"""The fault matrix: each failure -> calls made, which agent answered, breaker state after.

Chain for analyze_backtest: deepseek -> perplexity -> local; retry.attempts = 3.
"""

from __future__ import annotations

import pytest
from agents_testkit import GOOD_METRICS, MakeRouter

from agents import FatalRequestError, TaskKind
from agents.fake_providers import FakeProviders, Fault

TASK = {"metrics": GOOD_METRICS}

# (id, faults for deepseek, deepseek calls, answering agent, deepseek breaker, breaker reason)
MATRIX = [
    ("429x3", [Fault.http(429)] * 3, 3, "perplexity", "open", "rate_limit"),
    ("429-then-ok", [Fault.http(429)], 2, "deepseek", "closed", None),
    ("500x3", [Fault.http(500)] * 3, 3, "perplexity", "open", "server"),
    ("502x3", [Fault.http(502)] * 3, 3, "perplexity", "open", "server"),
    ("503x3", [Fault.http(503)] * 3, 3, "perplexity", "open", "server"),
    ("503-then-ok", [Fault.http(503)], 2, "deepseek", "closed", None),
    ("504-503-then-ok", [Fault.http(504), Fault.http(503)], 3, "deepseek", "closed", None),
    ("401", [Fault.http(401)], 1, "perplexity", "open", "auth"),
    ("402", [Fault.http(402)], 1, "perplexity", "open", "payment"),
    ("403", [Fault.http(403)], 1, "perplexity", "open", "auth"),
    ("404-retired-model", [Fault.http(404)], 1, "perplexity", "open", "config"),
    ("blank-then-ok", [Fault.blank()], 2, "deepseek", "closed", None),
    ("blankx3", [Fault.blank()] * 3, 3, "perplexity", "closed", None),
    ("invalid-json-then-ok", [Fault.invalid_json()], 2, "deepseek", "closed", None),
    ("invalid-jsonx3", [Fault.invalid_json()] * 3, 3, "perplexity", "closed", None),
]


@pytest.mark.parametrize(
    ("faults", "calls", "answered_by", "state", "reason"),
    [m[1:] for m in MATRIX],
    ids=[m[0] for m in MATRIX],
)
async def test_fault_matrix_deepseek_first(
    make_router: MakeRouter,
    fake: FakeProviders,
    faults: list[Fault],
    calls: int,
    answered_by: str,
    state: str,
    reason: str | None,
) -> None:
    fake.inject("deepseek", *faults)
    router = make_router()
    result = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert fake.calls("deepseek") == calls
    assert result.agent == answered_by
    assert fake.calls("perplexity") == (1 if answered_by == "perplexity" else 0)
    snap = router.breaker("deepseek").snapshot()
    assert (snap.state, snap.reason) == (state, reason)
    assert not result.degraded
    assert result.output is not None
    failed = [a for a in result.attempts if a.agent == "deepseek" and a.outcome != "ok"]
    assert len(failed) == min(len(faults), calls)


@pytest.mark.parametrize("status", [400, 422])
async def test_fatal_statuses_raise_naming_our_bug_without_fallback(
    make_router: MakeRouter, fake: FakeProviders, status: int
) -> None:
    fake.inject("deepseek", Fault.http(status))
    router = make_router()
    with pytest.raises(FatalRequestError, match=r"bug in agents/providers/deepseek\.py") as info:
        await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert info.value.status == status
    assert fake.calls("deepseek") == 1
    assert fake.calls("perplexity") == 0
    assert router.breaker("deepseek").snapshot().state == "closed"


async def test_status_failed_is_a_fallback_not_a_retry(
    make_router: MakeRouter, fake: FakeProviders
) -> None:
    fake.inject("perplexity", Fault.failed())
    router = make_router()
    result = await router.run(TaskKind.INDICATOR_RESEARCH, {"indicator": "RSI"})
    assert fake.calls("perplexity") == 1
    assert result.agent == "deepseek"
    failed = result.attempts[0]
    assert (failed.agent, failed.outcome, failed.error_class) == (
        "perplexity",
        "fallback",
        "BadResponse:failed",
    )
    assert router.breaker("perplexity").snapshot().state == "closed"


async def test_repeated_status_failed_opens_the_breaker(
    make_router: MakeRouter, fake: FakeProviders
) -> None:
    router = make_router()
    for _ in range(3):
        fake.inject("perplexity", Fault.failed())
        await router.run(TaskKind.INDICATOR_RESEARCH, {"indicator": "RSI"})
    assert router.breaker("perplexity").snapshot().state == "open"
    result = await router.run(TaskKind.INDICATOR_RESEARCH, {"indicator": "RSI"})
    assert fake.calls("perplexity") == 3
    assert result.attempts[0].error_class == "CircuitOpen"


async def test_all_remote_open_means_local_answers_degraded(
    make_router: MakeRouter, fake: FakeProviders
) -> None:
    fake.inject("deepseek", Fault.http(401))
    fake.inject("perplexity", Fault.http(402))
    router = make_router()
    first = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert (first.agent, first.degraded) == ("local", True)
    assert router.breaker("deepseek").snapshot().retry_in is None  # 401: until restart
    assert router.breaker("perplexity").snapshot().reason == "payment"
    second = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert (second.agent, second.degraded) == ("local", True)
    assert [a.error_class for a in second.attempts[:2]] == ["CircuitOpen", "CircuitOpen"]
    assert fake.calls("deepseek") == 1 and fake.calls("perplexity") == 1


async def test_retry_after_is_honoured(make_router: MakeRouter, fake: FakeProviders) -> None:
    waits: list[float] = []

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    fake.inject("deepseek", Fault.http(429, retry_after=1.5))
    router = make_router()
    router._sleep = record_sleep  # the sleep is injectable; no real waiting
    result = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert result.agent == "deepseek"
    assert waits == [1.5]


async def test_retry_after_beyond_limit_falls_back_at_once(
    make_router: MakeRouter, fake: FakeProviders
) -> None:
    fake.inject("deepseek", Fault.http(429, retry_after=600))
    router = make_router()
    result = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert fake.calls("deepseek") == 1
    assert result.agent == "perplexity"
    snap = router.breaker("deepseek").snapshot()
    assert snap.state == "open" and snap.reason == "rate_limit"
    assert snap.retry_in is not None and 590 < snap.retry_in <= 600


async def test_sdk_retries_do_not_multiply(make_router: MakeRouter, fake: FakeProviders) -> None:
    # openai's default max_retries=2 x our 3 attempts would make 9 calls (LiteLLM's bug).
    fake.inject("deepseek", *[Fault.http(503)] * 9)
    router = make_router()
    await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert fake.calls("deepseek") == 3


async def test_unreachable_provider_retries_then_falls_back(
    make_router: MakeRouter, server: object
) -> None:
    from agents_testkit import loopback_config
    from servers_testkit import ProviderServer

    assert isinstance(server, ProviderServer)
    cfg = loopback_config("http://127.0.0.1:9/deepseek", server.perplexity_url)
    router = make_router(cfg)
    result = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert result.agent == "perplexity"
    errors = [a.error_class for a in result.attempts if a.agent == "deepseek"]
    assert errors == ["ProviderConnectionError"] * 3


async def test_breaker_half_open_probe_closes_on_success(
    make_router: MakeRouter, fake: FakeProviders
) -> None:
    now = [1000.0]
    fake.inject("deepseek", *[Fault.http(503)] * 3)
    router = make_router()
    breaker = router.breaker("deepseek")
    breaker._clock = lambda: now[0]
    await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert breaker.snapshot().state == "open"
    now[0] += router.config.breaker.server_cooldown + 0.1
    assert breaker.snapshot().state == "half_open"
    result = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert result.agent == "deepseek"
    assert breaker.snapshot().state == "closed"


async def test_no_keys_every_task_goes_to_local_without_calls(fake: FakeProviders) -> None:
    from agents import MCPRouter

    async with MCPRouter() as router:
        result = await router.run(TaskKind.ANALYZE_BACKTEST, TASK)
    assert (result.agent, result.degraded) == ("local", False)
    assert [a.error_class for a in result.attempts[:2]] == ["NotConfigured", "NotConfigured"]
    assert fake.calls("deepseek") == fake.calls("perplexity") == 0
