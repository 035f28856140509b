"""Where candles for a tool come from: the synthetic sample (default) or the market store.

`sample` needs nothing (no network, no store) and labels everything synthetic.
`store` asks `market.MarketData` (local store first, the exchange for what is
missing). Loaded data sets are kept in a small LRU with their fingerprint, so
repeated backtests on the same data skip both loading and hashing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import numpy as np

import engine as E
from mcp_server.errors import DataUnavailableError

__all__ = ["DataSet", "DataSource", "DataSpec", "parse_time_ms"]

log = logging.getLogger("mcp_server.data")

Source = Literal["sample", "store"]
Category = Literal["linear", "spot", "inverse"]
_MAX_SAMPLE_MINUTES = 20_000_000


@dataclass(frozen=True)
class DataSpec:
    """What data a tool asked for; hashable, so it keys the LRU."""

    source: Source = "sample"
    symbol: str = "BTCUSDT"
    interval: str = "15"
    bars: int = 5000
    category: Category = "linear"
    start: str | None = None
    end: str | None = None
    seed: int = 42

    def label(self) -> str:
        """Short text for messages."""
        span = f" {self.start or ''}..{self.end or ''}" if self.start or self.end else ""
        return f"{self.source}:{self.category}/{self.symbol}/{self.interval} x{self.bars}{span}"


@dataclass(frozen=True)
class DataSet:
    """Candles plus their fingerprint (computed once)."""

    candles: E.Candles
    fingerprint: str
    spec: DataSpec


def parse_time_ms(text: str | None, *, name: str) -> int | None:
    """ISO date/datetime (UTC when no zone) or epoch milliseconds -> epoch ms."""
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    if raw.isdigit():
        return int(raw)
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise DataUnavailableError(
            f"{name}={raw!r} is not a date; use ISO format like 2024-03-01 or 2024-03-01T12:00"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


class DataSource:
    """Loads candles for a DataSpec. `market()` returns a `market.MarketData` (None: sample only)."""

    def __init__(
        self,
        *,
        market: Callable[[], Any] | None = None,
        max_bars: int = 200_000,
        slots: int = 8,
        engine_lane: anyio.CapacityLimiter | None = None,
    ) -> None:
        self.market = market
        self.max_bars = max_bars
        self._slots = slots
        self._lru: OrderedDict[DataSpec, DataSet] = OrderedDict()
        self._lock = threading.Lock()
        self._lane = engine_lane

    async def load(self, spec: DataSpec, on_note: Callable[[str], Any] | None = None) -> DataSet:
        """The data set for `spec` (from the LRU when recently loaded)."""
        if spec.bars > self.max_bars:
            raise DataUnavailableError(
                f"bars={spec.bars} is above this server's limit of {self.max_bars}; ask for fewer bars"
            )
        with self._lock:
            hit = self._lru.get(spec)
            if hit is not None:
                self._lru.move_to_end(spec)
                return hit
        if spec.source == "sample":
            data = await anyio.to_thread.run_sync(self._sample, spec, limiter=self._lane)
        else:
            data = await self._from_store(spec)
        with self._lock:
            self._lru[spec] = data
            while len(self._lru) > self._slots:
                self._lru.popitem(last=False)
        return data

    def _sample(self, spec: DataSpec) -> DataSet:
        started = time.perf_counter()
        per_bar = E.interval_minutes(spec.interval) or 44_640
        if spec.bars * per_bar > _MAX_SAMPLE_MINUTES:
            raise DataUnavailableError(
                f"{spec.bars} bars of {spec.interval} is too long a synthetic history; "
                "use fewer bars or a shorter interval"
            )
        start_ms = parse_time_ms(spec.start, name="start")
        kwargs: dict[str, Any] = {"seed": spec.seed}
        if start_ms is not None:
            kwargs["start_ms"] = start_ms
        candles = E.sample_candles(spec.symbol, spec.interval, spec.bars, **kwargs)
        fp = candles.fingerprint()
        log.debug("sample %s in %.0f ms", spec.label(), (time.perf_counter() - started) * 1000)
        return DataSet(candles, fp, spec)

    async def _from_store(self, spec: DataSpec) -> DataSet:
        market = self.market() if self.market is not None else None
        if market is None:
            raise DataUnavailableError(
                "source='store' is not available on this server (no market data service); "
                "use source='sample'"
            )
        from mcp_server.market_bridge import load_market_candles

        candles = await load_market_candles(market, spec, self.max_bars)
        if len(candles) < 2:
            raise DataUnavailableError(
                f"only {len(candles)} candle(s) for {spec.label()}; widen the range or run fetch_history first"
            )
        fp = await anyio.to_thread.run_sync(candles.fingerprint)
        return DataSet(candles, fp, spec)


def closes_tail(candles: E.Candles, n: int) -> np.ndarray:
    """The last `n` closes (a view)."""
    return candles.close[max(0, len(candles) - n) :]
