"""Fixtures for market tests: a fake Bybit on loopback, fast-retry clients, redis-server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port, for the whole session."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("BST_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server binary not found and BST_REQUIRE_REDIS=1")
        pytest.skip(
            "redis-server binary not found (apt-get install redis-server); set BST_REQUIRE_REDIS=1 to fail instead"
        )
    port = _free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
