"""Errors raised by the `agents` package.

Two families are kept apart, as pydantic-ai does: a *developer's* mistake
(bad configuration, a request a provider rejects as malformed) and a
*runtime* failure of a remote agent (rate limits, outages, bad output).
Only the second family is ever retried or answered by another agent.

Hierarchy::

    AgentsError                      base of everything raised here
    ├── ConfigError                  invalid configuration (routing table, prices, mode)
    ├── InvalidTaskError             task input that does not validate for its kind
    ├── ProviderError                one attempt at one remote agent failed (carries status, retry_after)
    │   ├── ProviderHTTPError        the provider answered with an HTTP error status
    │   ├── ProviderTimeoutError     connection/read timeout or our total deadline
    │   ├── ProviderConnectionError  could not reach the provider
    │   └── BadResponseError         HTTP 200 but unusable: blank/invalid JSON, status "failed", truncation
    ├── FatalRequestError            400/422: the request we built is wrong (our bug), never retried
    ├── ReplayMissError              ROUTER_MODE=replay and the response cache has no entry
    └── AllAgentsFailedError         every agent of a chain failed (only possible without `local`)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentsError",
    "AllAgentsFailedError",
    "BadResponseError",
    "ConfigError",
    "FatalRequestError",
    "InvalidTaskError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeoutError",
    "ReplayMissError",
]


class AgentsError(Exception):
    """Base class of every error raised by the agents package."""


class ConfigError(AgentsError):
    """The router configuration is invalid; the message says which field and how to fix it."""


class InvalidTaskError(AgentsError):
    """A task input does not match the schema of its task kind."""


class ProviderError(AgentsError):
    """One attempt at one remote agent failed.

    `status` is the HTTP status when there was one, `retry_after` the delay in
    seconds the provider asked for (429/503), `reason` a short machine-readable
    tag used by the classifier and the circuit breaker.
    """

    def __init__(
        self,
        message: str,
        *,
        agent: str,
        status: int | None = None,
        retry_after: float | None = None,
        reason: str = "error",
    ) -> None:
        super().__init__(message)
        self.agent = agent
        self.status = status
        self.retry_after = retry_after
        self.reason = reason


class ProviderHTTPError(ProviderError):
    """The provider answered with an HTTP error status (4xx/5xx)."""


class ProviderTimeoutError(ProviderError):
    """The attempt ran past its read timeout or its total deadline."""


class ProviderConnectionError(ProviderError):
    """The provider could not be reached (DNS, refused, reset)."""


class BadResponseError(ProviderError):
    """HTTP 200 but unusable: blank or invalid JSON, `status: failed`, truncated output."""


class FatalRequestError(AgentsError):
    """The provider rejected our request as malformed (400/422).

    This is a bug in this package (a payload field the API no longer accepts,
    a wrong parameter), not a provider outage, so it is raised at once instead
    of being retried or hidden behind another agent's answer.
    """

    def __init__(self, message: str, *, agent: str, status: int | None) -> None:
        super().__init__(message)
        self.agent = agent
        self.status = status


class ReplayMissError(AgentsError):
    """Replay mode found no recorded response for this exact request."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class AllAgentsFailedError(AgentsError):
    """Every agent of the chain failed; `attempts` lists what was tried."""

    def __init__(self, message: str, *, attempts: list[Any]) -> None:
        super().__init__(message)
        self.attempts = attempts
