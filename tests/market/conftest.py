"""Fixtures for market tests: a fake Bybit on loopback, fast-retry clients, redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from market_testkit import NOW, Loopback, SleepRecorder, fast_config, small_instruments

from market import BybitClient, FakeBybit, FakeBybitConfig, ServerThread
from market._fake_data import CandleSource, random_walk_candles

MakeServer = Callable[..., Loopback]


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    started: list[ServerThread] = []

    def make(
        config: FakeBybitConfig | None = None,
        *,
        source: CandleSource = random_walk_candles,
        clock: Callable[[], int] | None = None,
    ) -> Loopback:
        config = config or FakeBybitConfig(instruments=small_instruments())
        fake = FakeBybit(config, candle_source=source, clock=clock or (lambda: NOW))
        server = ServerThread(fake.app).start()
        started.append(server)
        return Loopback(fake, server)

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def loopback(make_server: MakeServer) -> Loopback:
    return make_server()


MakeClient = Callable[..., AbstractAsyncContextManager[BybitClient]]


@pytest.fixture
def make_client() -> MakeClient:
    @asynccontextmanager
    async def make(
        url: str, *, sleep: SleepRecorder | None = None, **over: object
    ) -> AsyncIterator[BybitClient]:
        async with httpx.AsyncClient() as http:
            kwargs = {"sleep": sleep} if sleep is not None else {}
            yield BybitClient(http, fast_config(url, **over), **kwargs)  # type: ignore[arg-type]

    return make


