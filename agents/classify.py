"""Error classifier: should the router retry, fall back, or stop?

One place decides, so the retry loop, the fallback chain and the circuit
breaker cannot disagree (LiteLLM's users hit fallbacks that fired only on some
errors, and retries on errors that could never succeed).

| failure                                   | action   | breaker reason |
|-------------------------------------------|----------|----------------|
| 429                                       | retry    | rate_limit     |
| 408, 409, 5xx, timeout, deadline, conn.   | retry    | server         |
| blank or invalid JSON                     | retry    | bad_response   |
| 401, 403                                  | fallback | auth           |
| 402                                       | fallback | payment        |
| 404 (retired model name), other 4xx       | fallback | config         |
| 200 with status failed/cancelled/incomplete | fallback | soft         |
| 400, 413, 422                             | fatal    | -              |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agents.errors import (
    BadResponseError,
    FatalRequestError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeoutError,
)

__all__ = ["Action", "Verdict", "classify"]

Action = Literal["retry", "fallback", "fatal"]
Reason = Literal[
    "rate_limit", "server", "bad_response", "auth", "payment", "config", "soft", "fatal", "bug"
]

_RETRY_STATUSES = {408, 409, 425, 429}
_FATAL_STATUSES = {400, 413, 422}


@dataclass(frozen=True)
class Verdict:
    """The classifier's decision for one failed attempt."""

    action: Action
    reason: Reason
    retry_after: float | None = None
    error_class: str = ""


def classify(exc: BaseException) -> Verdict:
    """Classify a failed attempt; unknown exceptions (our bugs) are fatal."""
    name = type(exc).__name__
    if isinstance(exc, FatalRequestError):
        return Verdict("fatal", "fatal", error_class=name)
    if isinstance(exc, TimeoutError):
        # asyncio.timeout fired: our total deadline per attempt.
        return Verdict("retry", "server", error_class="DeadlineExceeded")
    if isinstance(exc, ProviderHTTPError) and exc.status is not None:
        return _classify_status(exc, name)
    if isinstance(exc, ProviderTimeoutError | ProviderConnectionError):
        return Verdict("retry", "server", error_class=name)
    if isinstance(exc, BadResponseError):
        if exc.reason in ("blank", "invalid_json", "insufficient_system_resource"):
            return Verdict("retry", "bad_response", error_class=f"BadResponse:{exc.reason}")
        return Verdict("fallback", "soft", error_class=f"BadResponse:{exc.reason}")
    if isinstance(exc, ProviderError):
        return Verdict("fallback", "soft", error_class=name)
    return Verdict("fatal", "bug", error_class=name)


def _classify_status(exc: ProviderHTTPError, name: str) -> Verdict:
    status = exc.status or 0
    cls = f"HTTP{status}"
    if status == 429:
        return Verdict("retry", "rate_limit", exc.retry_after, cls)
    if status in _RETRY_STATUSES or status >= 500:
        return Verdict("retry", "server", exc.retry_after, cls)
    if status in (401, 403):
        return Verdict("fallback", "auth", error_class=cls)
    if status == 402:
        return Verdict("fallback", "payment", error_class=cls)
    if status in _FATAL_STATUSES:
        return Verdict("fatal", "fatal", error_class=cls)
    return Verdict("fallback", "config", error_class=cls)
