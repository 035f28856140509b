"""Helpers shared by the market tests (imported by conftest and test modules)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx

from market import (
    ClientConfig,
    FakeBybit,
    FakeInstrument,
    ServerThread,
)

# A fixed "now", 50 s into a minute, so the open candle is always mid-way.
NOW = 1_700_000_030_000
MIN = 60_000
DAY = 86_400_000


def small_instruments(days: float = 3.0) -> list[FakeInstrument]:
    return [
        FakeInstrument(symbol="BTCUSDT", history_days=days),
        FakeInstrument(symbol="ETHUSDT", base_coin="ETH", history_days=days),
        FakeInstrument(symbol="BTCUSDT", category="spot", history_days=days),
        FakeInstrument(symbol="BTCUSD", category="inverse", quote_coin="USD", history_days=days),
    ]


class Loopback:
    """A fake Bybit served by uvicorn on 127.0.0.1."""

    def __init__(self, fake: FakeBybit, server: ServerThread):
        self.fake = fake
        self.server = server
        self.url = server.url


MakeServer = Callable[..., Loopback]


def fast_config(url: str, **over: object) -> ClientConfig:
    base: dict[str, object] = dict(
        base_url=url,
        rate_per_s=120.0,
        backoff_initial_s=0.001,
        backoff_max_s=0.01,
        backoff_jitter_s=0.0,
        timeout_s=2.0,
        max_attempts=4,
    )
    base.update(over)
    return ClientConfig.model_validate(base)


class SleepRecorder:
    """Stands in for asyncio.sleep inside the retry policy: records, barely waits."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class CutTransport(httpx.AsyncBaseTransport):
    """Forwards to the real loopback server, then cuts the connection: after `allow`
    requests every request fails as `error` (default: the network went away)."""

    def __init__(self, allow: int, error: type[httpx.TransportError] = httpx.ConnectError):
        self._inner = httpx.AsyncHTTPTransport()
        self.allow = allow
        self.error = error
        self.sent = 0
        self.cut = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.sent >= self.allow:
            self.cut += 1
            raise self.error("connection cut by the test", request=request)
        self.sent += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class NoNetwork(httpx.AsyncBaseTransport):
    """A transport for code that must not touch the network: records every request and
    answers 599, so the caller sees an error and the test sees the request."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        return httpx.Response(599, text="the test forbids the network here")


def refused_url() -> str:
    """A loopback URL nothing listens on (a port just bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
