"""The router's retry policy for one agent, built on tenacity.

Exponential backoff with jitter, but never shorter than the provider's
Retry-After; a Retry-After longer than `max_retry_after` is not waited out
(the caller falls back and the breaker opens for that long) so one slow
provider cannot stall a request for minutes.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from agents.classify import classify
from agents.config import RetryConfig

__all__ = ["backoff_delay", "build_retrying"]


def backoff_delay(
    config: RetryConfig, attempt_number: int, retry_after: float | None, rng: random.Random
) -> float:
    """Seconds to wait after failed attempt `attempt_number` (1-based)."""
    base = min(config.wait_max, config.wait_initial * 2 ** (attempt_number - 1))
    jittered = base * (1.0 - config.jitter * rng.random())
    if retry_after is not None:
        return max(jittered, min(retry_after, config.max_retry_after))
    return jittered


def _retry_after(state: RetryCallState) -> float | None:
    if state.outcome is None or not state.outcome.failed:
        return None
    exc = state.outcome.exception()
    return classify(exc).retry_after if exc is not None else None


def build_retrying(
    config: RetryConfig,
    *,
    sleep: Callable[[float], Awaitable[Any]],
    rng: random.Random,
) -> AsyncRetrying:
    """A tenacity loop that retries only what the classifier calls retryable."""

    def stop(state: RetryCallState) -> bool:
        if stop_after_attempt(config.attempts)(state):
            return True
        retry_after = _retry_after(state)
        return retry_after is not None and retry_after > config.max_retry_after

    def wait(state: RetryCallState) -> float:
        return backoff_delay(config, state.attempt_number, _retry_after(state), rng)

    return AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(lambda exc: classify(exc).action == "retry"),
        sleep=sleep,
        reraise=True,
    )
