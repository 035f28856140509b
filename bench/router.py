"""Router overhead and fallback speed against the fake provider server on loopback.

1. Added latency: p50/p90 of a routed `ask` (prompt rendering, breaker, tenacity loop,
   deadline, normalisation) minus the same percentiles of a direct
   `AsyncOpenAI.chat.completions.create` with the identical payload. Target p50 < 1 ms.
2. Fallback time: from the start of a call whose first three DeepSeek answers are 503
   to the local analyst's answer. Target: the configured retry budget + 50 ms.

Run: uv run python bench/router.py [--n 400]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path and bench/market.py would shadow
# the `market` package: drop that entry before importing it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import openai  # noqa: E402

from agents import (  # noqa: E402
    DeepSeekConfig,
    MCPRouter,
    RetryConfig,
    RouterConfig,
    TaskKind,
    parse_task_input,
)
from agents.fake_providers import FakeProviders, Fault, deepseek_url  # noqa: E402
from agents.providers.base import CallOptions  # noqa: E402
from market import ServerThread  # noqa: E402

TASK = {"question": "What is the Sharpe ratio?"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def added_latency(base_url: str, n: int) -> tuple[list[float], list[float]]:
    config = RouterConfig(
        deepseek=DeepSeekConfig(api_key="test-key", base_url=base_url),
        retry=RetryConfig(attempt_deadline=10),
    )
    router = MCPRouter(config)
    provider = router._providers["deepseek"]
    call = provider.prepare(TaskKind.ASK, parse_task_input(TaskKind.ASK, TASK), CallOptions())
    client = openai.AsyncOpenAI(
        api_key="test-key", base_url=base_url, max_retries=0, timeout=10
    )
    direct: list[float] = []
    routed: list[float] = []
    for _ in range(30):  # warm both connection pools
        await client.chat.completions.create(**call.payload)
        await router.run(TaskKind.ASK, TASK, agent="deepseek")
    for _ in range(n):  # interleaved so drift hits both equally
        t0 = time.perf_counter()
        await client.chat.completions.create(**call.payload)
        direct.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        result = await router.run(TaskKind.ASK, TASK, agent="deepseek")
        routed.append((time.perf_counter() - t0) * 1000)
        assert result.agent == "deepseek"
    await client.close()
    await router.aclose()
    return direct, routed


async def fallback_time(
    fake: FakeProviders, base_url: str, runs: int
) -> tuple[list[float], float]:
    retry = RetryConfig(
        attempts=3, wait_initial=0.05, wait_max=0.2, jitter=0.25, attempt_deadline=5
    )
    config = RouterConfig(
        deepseek=DeepSeekConfig(api_key="test-key", base_url=base_url), retry=retry
    )
    times: list[float] = []
    for _ in range(runs):
        router = MCPRouter(config)  # fresh breaker each run
        # Warm up: client construction and the TCP connect are not part of the fallback path.
        await router.run(TaskKind.CODE_REVIEW, {"code": "y = 1"})
        fake.inject("deepseek", *[Fault.http(503)] * 3)
        t0 = time.perf_counter()
        result = await router.run(TaskKind.CODE_REVIEW, {"code": "x = df.close.shift(-1)"})
        total = (time.perf_counter() - t0) * 1000
        # Clock starts when the first 503 is back: subtract the first attempt's own latency.
        times.append(total - result.attempts[0].latency_ms)
        assert result.agent == "local" and result.degraded
        await router.aclose()
    return times, retry.budget() * 1000


async def main(n: int, runs: int) -> None:
    fake = FakeProviders()
    with ServerThread(fake) as server:
        url = deepseek_url(server.url)
        direct, routed = await added_latency(url, n)
        fake.reset()
        fb, budget = await fallback_time(fake, url, runs)
    rows = [
        ("direct SDK call p50 / p90 (ms)", f"{pct(direct, 0.5):.3f} / {pct(direct, 0.9):.3f}", ""),
        ("routed call p50 / p90 (ms)", f"{pct(routed, 0.5):.3f} / {pct(routed, 0.9):.3f}", ""),
        ("added latency p50 (ms)", f"{pct(routed, 0.5) - pct(direct, 0.5):.3f}", "< 1.000"),
        ("added latency p90 (ms)", f"{pct(routed, 0.9) - pct(direct, 0.9):.3f}", ""),
        (
            "first 503 -> fallback answer p50 (ms)",
            f"{statistics.median(fb):.1f}",
            f"< {budget + 50:.1f}",
        ),
        ("first 503 -> fallback answer max (ms)", f"{max(fb):.1f}", f"< {budget + 50:.1f}"),
        ("retry budget (3 attempts, 50 ms initial)", f"{budget:.1f}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>18}  target")
    print("-" * (width + 30))
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>18}  {target}")
    print(
        f"\n(n={n} interleaved calls; {runs} fallback runs; fake server on loopback in-process thread)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.runs))
