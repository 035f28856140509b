"""Helpers shared by the market tests (imported by conftest and test modules)."""

from __future__ import annotations

from collections.abc import Callable

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
