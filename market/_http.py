"""One Bybit v5 GET: throttling, retry policy and error classification.

Kept apart from the endpoint code so the policy (what is retried, how long we
wait, what a 403 does) lives in one place and is tested once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from market._limiter import RateLimiter
from market.errors import (
    ExchangeTimeoutError,
    ExchangeUnavailableError,
    ExchangeUnreachableError,
    InvalidRequestError,
    IPBannedError,
    MalformedResponseError,
    RateLimitedError,
    RetryableExchangeError,
)

__all__ = ["MAINNET_URL", "SYNTHETIC_HEADER", "ClientConfig", "Requester"]

log = logging.getLogger("market.bybit")

# The one deliberate difference between our fake Bybit and the real one: every
# response says its candles are synthetic, so nothing downstream mistakes them
# for market data (the store keeps the mark, results carry it).
SYNTHETIC_HEADER = "X-Synthetic-Data"

MAINNET_URL = "https://api.bybit.com"
_UNAVAILABLE_CODES = frozenset({10000, 10016, 170001, 170007})
_RATE_LIMIT_CODES = frozenset({10006, 10018})
_SUCCESS_MESSAGES = frozenset({"OK", "success", "SUCCESS", ""})


class ClientConfig(BaseModel):
    """Settings of the Bybit client. Plain values: `market` never reads the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = MAINNET_URL
    rate_per_s: float = Field(
        default=20.0, gt=0, le=120.0, description="token-bucket rate; 120/s = Bybit's 600 per 5 s"
    )
    burst: float = Field(
        default=4.0,
        ge=1.0,
        le=50.0,
        description="tokens the bucket holds; > 1 lets windows make up for late wake-ups "
        "(a bucket of 1 loses every token a busy event loop is late for); the window cap "
        "still bounds any burst",
    )
    window_limit: int = Field(
        default=590, ge=1, le=600, description="hard cap of requests per window"
    )
    window_s: float = Field(default=5.0, gt=0, description="length of Bybit's IP window")
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_initial_s: float = Field(default=0.5, ge=0.0)
    backoff_max_s: float = Field(default=20.0, ge=0.0)
    backoff_jitter_s: float = Field(default=0.5, ge=0.0)
    max_reset_wait_s: float = Field(
        default=60.0, ge=0.0, description="cap on a 10006 reset-header wait"
    )
    ban_cooldown_s: float = Field(
        default=600.0, ge=0.0, description="pause after HTTP 403 (Bybit: >= 10 min)"
    )
    timeout_s: float = Field(default=10.0, gt=0)
    concurrency: int = Field(
        default=4, ge=1, le=32, description="windows of a range fetched at once"
    )
    page_limit: int = Field(default=1000, ge=1, le=1000)
    unreachable_retry_s: float = Field(
        default=0.2,
        ge=0.0,
        le=5.0,
        description="pause before the one retry of a DNS failure or refused connection",
    )
    fail_fast_unreachable: bool = Field(
        default=True,
        description="False retries an unreachable exchange like a timeout (max_attempts with "
        "backoff: ~8 s with the defaults); kept to measure the old policy against",
    )


Sleep = Callable[[float], Awaitable[None]]


class Requester:
    """Sends GETs through the limiter and the retry policy; counts what happened."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: ClientConfig,
        *,
        limiter: RateLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
    ):
        self.http = http
        self.config = config
        self.limiter = limiter or RateLimiter(
            config.rate_per_s,
            burst=config.burst,
            window_limit=config.window_limit,
            window_s=config.window_s,
        )
        self._sleep = sleep
        self._banned_until = 0.0
        self._resume_at = 0.0
        self.requests = 0
        self.retries = 0
        self.synthetic = False

    def _check_ban(self) -> None:
        left = self._banned_until - time.monotonic()
        if left > 0:
            raise IPBannedError(
                f"IP cool-down after HTTP 403: {left:.0f} s left; not contacting Bybit",
                cooldown_s=left,
            )

    async def get(self, path: str, params: Mapping[str, Any]) -> Any:
        """GET `path` and return the envelope's `result`, retrying transient failures.

        An unreachable exchange gets one quick retry (a blip of the resolver or a
        server restarting) and is then raised: the caller's fix is elsewhere.
        """
        try:
            return await self._get_retrying(path, params)
        except ExchangeUnreachableError as exc:
            if not self.config.fail_fast_unreachable:
                raise
            self.retries += 1
            log.warning(
                "bybit unreachable: %s; one retry in %.2f s", exc, self.config.unreachable_retry_s
            )
            await self._sleep(self.config.unreachable_retry_s)
            return await self._get_retrying(path, params)

    def _retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, ExchangeUnreachableError):
            return not self.config.fail_fast_unreachable
        return isinstance(exc, RetryableExchangeError)

    async def _get_retrying(self, path: str, params: Mapping[str, Any]) -> Any:
        cfg = self.config
        retrying = AsyncRetrying(
            retry=retry_if_exception(self._retryable),
            stop=stop_after_attempt(cfg.max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(path, params)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.reset_at_ms is not None:
            # A reset time in the past means the window already reopened: no wait.
            wait = max(0.0, exc.reset_at_ms / 1000 - time.time())
            wait = min(wait, self.config.max_reset_wait_s)
            # Other windows must hold too, not only the request that was told off.
            self._resume_at = max(self._resume_at, time.monotonic() + wait)
            return wait
        cfg = self.config
        backoff = wait_exponential_jitter(
            multiplier=cfg.backoff_initial_s, max=cfg.backoff_max_s, jitter=cfg.backoff_jitter_s
        )
        return float(backoff(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "bybit request failed (attempt %d): %s; retrying in %.2f s",
            state.attempt_number,
            exc,
            state.upcoming_sleep,
        )

    async def _once(self, path: str, params: Mapping[str, Any]) -> Any:
        self._check_ban()
        hold = self._resume_at - time.monotonic()
        if hold > 0.01:
            await self._sleep(hold)
        await self.limiter.acquire()
        self._check_ban()
        self.requests += 1
        try:
            resp = await self.http.get(
                self.config.base_url.rstrip("/") + path,
                params={k: v for k, v in params.items() if v is not None},
                timeout=self.config.timeout_s,
            )
        except httpx.TimeoutException as exc:
            raise ExchangeTimeoutError(
                f"{path}: timed out after {self.config.timeout_s} s"
            ) from exc
        except httpx.ConnectError as exc:
            # DNS failures and refused connections; a connect *timeout* is a timeout above.
            raise ExchangeUnreachableError(self.config.base_url, _reason(exc)) from exc
        except httpx.TransportError as exc:
            raise ExchangeTimeoutError(f"{path}: connection failed: {exc}") from exc
        return self._classify(path, params, resp)

    def _classify(self, path: str, params: Mapping[str, Any], resp: httpx.Response) -> Any:
        status = resp.status_code
        if resp.headers.get(SYNTHETIC_HEADER):
            self.synthetic = True
        if status == 403:
            cooldown = self.config.ban_cooldown_s
            self._banned_until = time.monotonic() + cooldown
            raise IPBannedError(
                f"HTTP 403 from Bybit on {path}: IP rate limit breached (or a US IP); "
                f"no requests for {cooldown:.0f} s",
                cooldown_s=cooldown,
            )
        if status == 429:
            raise RateLimitedError(f"HTTP 429 from Bybit on {path}", status=429)
        if status >= 500:
            raise ExchangeUnavailableError(f"HTTP {status} from Bybit on {path}", status=status)
        if status != 200:
            raise InvalidRequestError(
                f"HTTP {status} from Bybit on {path}: {resp.text[:200]}", status=status
            )
        try:
            body = json.loads(resp.content)
            code = int(body["retCode"])
            msg = str(body.get("retMsg", ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedResponseError(f"{path}: malformed body {resp.text[:120]!r}") from exc
        if code == 0:
            if msg not in _SUCCESS_MESSAGES:
                log.debug("retCode 0 with retMsg %r", msg)
            result = body.get("result")
            if not isinstance(result, dict):
                raise MalformedResponseError(f"{path}: envelope without a result object")
            return result
        if code in _RATE_LIMIT_CODES:
            raise RateLimitedError(
                f"retCode {code} {msg!r} on {path}", ret_code=code, reset_at_ms=_reset_header(resp)
            )
        if code in _UNAVAILABLE_CODES:
            raise ExchangeUnavailableError(f"retCode {code} {msg!r} on {path}", ret_code=code)
        raise InvalidRequestError(
            f"retCode {code} {msg!r} on {path} with {dict(params)}", ret_code=code
        )


def _reason(exc: httpx.ConnectError) -> str:
    """The OS's reason when the chain has one ('Connection refused'); anyio's 'All connection
    attempts failed' alone does not say that nothing listens there."""
    seen: BaseException | None = exc
    while seen is not None:
        errors = getattr(seen, "exceptions", None) or [seen]
        for err in errors:
            if isinstance(err, OSError) and isinstance(err.errno, int) and err.errno > 0:
                return os.strerror(err.errno)  # errno's text: asyncio's adds the address
            if isinstance(err, OSError) and err.strerror:
                return err.strerror  # a resolver error (negative codes)
        seen = seen.__cause__ or seen.__context__
    return str(exc).strip() or type(exc).__name__


def _reset_header(resp: httpx.Response) -> int | None:
    raw = resp.headers.get("X-Bapi-Limit-Reset-Timestamp")
    if raw is None:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None
