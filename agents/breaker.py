"""Per-agent circuit breaker with a cooldown chosen by the failure's reason.

A single fixed cooldown confuses users (LiteLLM's "No deployments available"):
a bad key will not heal in 5 seconds, and a 429 says exactly how long to wait.
So: 401/403 stay open until restart, 402 long, 429 for Retry-After, 5xx short.
After the cooldown one probe request is let through (half-open); success
closes the breaker, failure re-opens it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agents.classify import Verdict
from agents.config import BreakerConfig

__all__ = ["BreakerSnapshot", "BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerSnapshot:
    """A breaker's state for status displays; `retry_in` is None when open until restart."""

    agent: str
    state: BreakerState
    reason: str | None
    retry_in: float | None
    consecutive_failures: int
    opened_count: int


class CircuitBreaker:
    """Breaker of one agent. Not thread-safe; one event loop owns it."""

    def __init__(
        self,
        agent: str,
        config: BreakerConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent = agent
        self._config = config
        self._clock = clock
        self._state: BreakerState = "closed"
        self._open_until: float | None = None
        self._reason: str | None = None
        self._soft_failures = 0
        self._opened_count = 0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """Current state; an expired cooldown reads as half_open."""
        if (
            self._state == "open"
            and self._open_until is not None
            and self._clock() >= self._open_until
        ):
            return "half_open"
        return self._state

    def allow(self) -> bool:
        """May a request go to this agent now? Claims the single half-open probe slot."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probe_in_flight:
            self._state = "half_open"
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        """A call succeeded: close."""
        self._state = "closed"
        self._open_until = None
        self._reason = None
        self._soft_failures = 0
        self._probe_in_flight = False

    def record_failure(self, verdict: Verdict) -> None:
        """A call failed for good (retries exhausted or a fall-back error)."""
        self._probe_in_flight = False
        if verdict.reason in ("soft", "bad_response") and self._state == "closed":
            self._soft_failures += 1
            if self._soft_failures < self._config.soft_failure_threshold:
                return
        self.trip(verdict.reason, verdict.retry_after)

    def trip(self, reason: str, retry_after: float | None = None) -> None:
        """Open the breaker for the cooldown of `reason`."""
        cooldown = self._cooldown(reason, retry_after)
        self._state = "open"
        self._reason = reason
        self._open_until = None if cooldown is None else self._clock() + cooldown
        self._opened_count += 1
        self._soft_failures = 0

    def _cooldown(self, reason: str, retry_after: float | None) -> float | None:
        cfg = self._config
        if reason == "auth":
            return cfg.auth_cooldown
        if reason in ("payment", "config"):
            return cfg.payment_cooldown
        if reason == "rate_limit":
            return retry_after if retry_after is not None else cfg.rate_limit_cooldown
        if reason == "server":
            return max(retry_after or 0.0, cfg.server_cooldown)
        return cfg.bad_response_cooldown

    def snapshot(self) -> BreakerSnapshot:
        """State for display."""
        state = self.state
        retry_in: float | None = None
        if state == "open" and self._open_until is not None:
            retry_in = max(self._open_until - self._clock(), 0.0)
        return BreakerSnapshot(
            agent=self.agent,
            state=state,
            reason=self._reason if state != "closed" else None,
            retry_in=retry_in,
            consecutive_failures=self._soft_failures,
            opened_count=self._opened_count,
        )
