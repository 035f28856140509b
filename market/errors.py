"""Errors raised by the `market` package.

Every error derives from `MarketError`, so callers can catch the package as a
whole. Retryable exchange failures share one base class; the client's retry
policy retries exactly that branch and nothing else::

    MarketError
    ├── ExchangeError                 anything the exchange said, or failed to say
    │   ├── RetryableExchangeError    retried with exponential backoff and jitter
    │   │   ├── RateLimitedError      HTTP 429, retCode 10006 / 10018 (optional reset time)
    │   │   ├── ExchangeUnavailableError  retCode 10000 / 10016 / 170001 / 170007, HTTP 5xx
    │   │   ├── ExchangeTimeoutError  request timed out or the connection dropped mid-answer
    │   │   └── MalformedResponseError  body is not the JSON envelope we expect
    │   ├── ExchangeUnreachableError  DNS failure or refused connection: one quick retry, then raised
    │   ├── IPBannedError             HTTP 403: stop everything for the cool-down; never retried
    │   └── InvalidRequestError       retCode 10001 / 10017 / other non-retryable codes
    │       ├── UnknownSymbolError    names the symbol and some valid choices
    │       └── UnknownIntervalError  names the interval and the valid choices
    ├── InvalidRangeError             start after end, or a range before the first candle
    ├── ContinuityError               a page is not contiguous (strict mode only)
    └── StoreError                    the local candle store cannot be read or written
        └── StoreUnavailableError     the data directory is missing or not writable

The cache never raises to callers: a failing Redis degrades to uncached work.
"""

from __future__ import annotations

from collections.abc import Sequence

import ohlcv

__all__ = [
    "ContinuityError",
    "ExchangeError",
    "ExchangeTimeoutError",
    "ExchangeUnavailableError",
    "ExchangeUnreachableError",
    "IPBannedError",
    "InvalidRangeError",
    "InvalidRequestError",
    "MalformedResponseError",
    "MarketError",
    "RateLimitedError",
    "RetryableExchangeError",
    "StoreError",
    "StoreUnavailableError",
    "UnknownIntervalError",
    "UnknownSymbolError",
]


class MarketError(Exception):
    """Base class of every error raised by `market`."""


class ExchangeError(MarketError):
    """The exchange returned an error, or an answer we cannot use."""

    def __init__(self, message: str, *, ret_code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.ret_code = ret_code
        self.status = status


class RetryableExchangeError(ExchangeError):
    """A transient failure; the client retries these with backoff."""


class RateLimitedError(RetryableExchangeError):
    """HTTP 429 or retCode 10006/10018. `reset_at_ms` is set when Bybit sent the header."""

    def __init__(
        self,
        message: str,
        *,
        ret_code: int | None = None,
        status: int | None = None,
        reset_at_ms: int | None = None,
    ):
        super().__init__(message, ret_code=ret_code, status=status)
        self.reset_at_ms = reset_at_ms


class ExchangeUnavailableError(RetryableExchangeError):
    """Server timeout, service restarting, or an HTTP 5xx."""


class ExchangeTimeoutError(RetryableExchangeError):
    """The request timed out or the connection dropped (no route at all is
    `ExchangeUnreachableError`)."""


class MalformedResponseError(RetryableExchangeError):
    """The body was not valid JSON or lacked the v5 envelope."""


class ExchangeUnreachableError(ExchangeError):
    """No route to the exchange: its name does not resolve or the connection is refused.

    Not a `RetryableExchangeError`: backing off for seconds cannot bring a network
    back, so the client tries once more after a short pause and then says so.
    """

    def __init__(self, url: str, reason: str):
        super().__init__(f"the exchange is unreachable (no network?): {url}: {reason}")
        self.url = url
        self.reason = reason


class IPBannedError(ExchangeError):
    """HTTP 403: the IP is banned (or geo-blocked). Wait `cooldown_s` before any request."""

    def __init__(self, message: str, *, cooldown_s: float, status: int | None = 403):
        super().__init__(message, status=status)
        self.cooldown_s = cooldown_s


class InvalidRequestError(ExchangeError):
    """The request itself is wrong; retrying cannot help."""


class UnknownSymbolError(InvalidRequestError):
    """The symbol is not listed in the category."""

    def __init__(self, symbol: str, category: str, valid: Sequence[str] = ()):
        shown = ", ".join(list(valid)[:12])
        more = f" (and {len(valid) - 12} more)" if len(valid) > 12 else ""
        hint = f"; valid symbols include: {shown}{more}" if valid else ""
        super().__init__(
            f"unknown symbol {symbol!r} in category {category!r}{hint}", ret_code=10001
        )
        self.symbol = symbol
        self.category = category
        self.valid = tuple(valid)


class UnknownIntervalError(InvalidRequestError, ohlcv.UnknownIntervalError):
    """The exchange rejected the interval; also an `ohlcv.UnknownIntervalError`, so one
    handler catches a bad label whether we or the exchange noticed it."""

    def __init__(self, interval: str, valid: Sequence[str]):
        ohlcv.UnknownIntervalError.__init__(self, interval, valid)
        self.ret_code: int | None = 10001
        self.status: int | None = None


class InvalidRangeError(MarketError, ValueError):
    """The requested time range is empty, reversed or entirely before the first candle."""


class ContinuityError(MarketError):
    """A page of candles has a hole or overlaps the previous page (strict mode)."""


class StoreError(MarketError):
    """The local candle store failed."""


class StoreUnavailableError(StoreError):
    """The data directory cannot be created or written."""
