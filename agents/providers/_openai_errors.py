"""Translate openai SDK exceptions into this package's ProviderError family.

Both remote adapters speak through the openai SDK, so they share this one
mapping; the classifier then only ever sees our own exception types.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from agents.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeoutError,
)

if TYPE_CHECKING:
    import openai

__all__ = ["parse_retry_after", "translate_openai_error"]


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or HTTP date), else None."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(parsed.timestamp() - time.time(), 0.0)


def _message(exc: openai.APIStatusError) -> str:
    # The body may echo the request; keep only the provider's error message.
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])[:300]
    return str(exc.message)[:300]


def translate_openai_error(exc: Exception, agent: str) -> ProviderError:
    """Map an openai SDK exception onto ProviderHTTPError / Timeout / Connection errors."""
    import openai  # loaded already: only an SDK call raises these
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        try:
            retry_after = parse_retry_after(exc.response.headers)
        except (TypeError, ValueError, OverflowError):
            retry_after = None
        return ProviderHTTPError(
            f"{agent} HTTP {status}: {_message(exc)}",
            agent=agent,
            status=status,
            retry_after=retry_after,
            reason=f"http_{status}",
        )
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeoutError(f"{agent} timed out", agent=agent, reason="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderConnectionError(
            f"{agent} unreachable: {exc.__cause__ or exc}", agent=agent, reason="connection"
        )
    return ProviderError(f"{agent}: {type(exc).__name__}: {exc}", agent=agent, reason="sdk_error")
