"""Settings, counters and the status snapshot of the live stream."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ConnectionState",
    "ConnectionStatus",
    "Counters",
    "LastCandle",
    "LiveConfig",
    "LiveStatus",
    "RecordedGap",
    "RejectedTopic",
]

ConnectionState = Literal["connecting", "connected", "backoff", "stopped"]


class LiveConfig(BaseModel):
    """Timings of the live stream (defaults: shared/specs/bybit-ws.md §8). Tests shrink them."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ping_interval_s: float = Field(default=20.0, gt=0)  # app ping {"op":"ping"}
    pong_timeout_s: float = Field(default=10.0, gt=0)  # no pong -> close 4000, reconnect
    protocol_ping_interval_s: float | None = 20.0  # RFC 6455 keepalive of the websockets library
    protocol_ping_timeout_s: float | None = 20.0
    open_timeout_s: float = Field(default=10.0, gt=0)
    close_timeout_s: float = Field(default=5.0, gt=0)
    ack_timeout_s: float = Field(default=10.0, gt=0)
    backoff_initial_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)
    healthy_reset_s: float = Field(default=60.0, ge=0)  # healthy this long -> backoff restarts
    min_dial_interval_s: float = Field(default=2.0, ge=0)  # 150 dials / 5 min, under Bybit's 500
    cooldown_403_s: float = Field(default=600.0, ge=0)
    cooldown_429_s: float = Field(default=60.0, ge=0)
    close_grace_ms: int | None = None  # None: 10 s up to 1 h intervals, 60 s above
    watchdog_s: float = Field(default=90.0, gt=0)  # kline silence -> resubscribe and REST check
    tick_s: float = Field(default=0.5, gt=0)  # how often timers are checked
    repair_retry_s: float = Field(default=5.0, gt=0)
    max_repair_bars: int = Field(default=1000, ge=1)  # further back is a backfill, not a repair
    max_args_per_request: int = Field(default=10, ge=1)
    max_args_chars: int = Field(default=21_000, ge=100)


class ConnectionStatus(BaseModel):
    category: str
    url: str
    topics: int
    state: ConnectionState
    reconnects: int
    last_message_age_s: float | None
    last_error: str | None = None


class RejectedTopic(BaseModel):
    category: str
    topic: str
    reason: str


class LastCandle(BaseModel):
    channel: str
    start: int
    close: str
    closed: bool
    source: Literal["ws", "rest"]
    age_s: float


class RecordedGap(BaseModel):
    """Candles the exchange did not have when we repaired: recorded, never forward-filled."""

    category: str
    symbol: str
    interval: str
    start: int
    end: int


class LiveStatus(BaseModel):
    running: bool
    connections: list[ConnectionStatus]
    messages_total: int
    messages_per_s: float
    repaired_candles: int
    closed_candles: int
    rejected_topics: list[RejectedTopic]
    malformed: int
    publish_errors: int
    gaps: list[RecordedGap]
    last_candles: list[LastCandle]


@dataclass
class Counters:
    """Mutable counters shared by the stream's parts (one event loop, no locks)."""

    messages: int = 0
    malformed: int = 0
    repaired: int = 0
    closed: int = 0
    publish_errors: int = 0
    rejected: dict[tuple[str, str], str] = field(default_factory=dict)
    gaps: list[RecordedGap] = field(default_factory=list)
    _seconds: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=12))

    def message(self) -> None:
        self.messages += 1
        sec = int(time.monotonic())
        if self._seconds and self._seconds[-1][0] == sec:
            self._seconds[-1] = (sec, self._seconds[-1][1] + 1)
        else:
            self._seconds.append((sec, 1))

    def rate(self, window_s: int = 10) -> float:
        """Messages per second over the last full `window_s` seconds."""
        now = int(time.monotonic())
        total = sum(n for s, n in self._seconds if now - window_s <= s < now)
        return total / window_s
