"""Faults of the fake Bybit stream, and the market clock it shares with the REST fake."""

from __future__ import annotations

import threading
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FakeClock", "WsFault", "WsFaultKind"]

WsFaultKind = Literal[
    "drop",  # TCP abort, no close frame (1006); `times` > 1: the next connections too, on accept
    "close",  # close frame with `code`; `times` as for drop
    "stall",  # stop reading and sending for `duration_s`: no pongs of any kind
    "ignore_pings",  # keep streaming, but answer no JSON ping for `duration_s`
    "malformed",  # `times` broken frames: bad JSON, plain text, binary, unknown shapes
    "skip_confirm",  # the next `times` candles close without their confirm:true
    "duplicate_confirm",  # the next `times` confirms are sent twice
    "delay",  # every frame waits `delay_s` for `duration_s`
    "silence",  # no data for `duration_s` (pings still answered)
    "reject_handshake",  # the next `times` handshakes get HTTP `status`
    "reject_topic",  # subscribe requests holding `topic` fail, as an unknown topic does
]


class WsFault(BaseModel):
    """One fault of the fake stream; `category` limits it to connections of one category."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: WsFaultKind
    category: str | None = None
    times: int = Field(default=1, ge=1)
    duration_s: float = Field(default=1.0, ge=0)
    code: int = Field(default=1000, ge=1000, le=4999)
    status: int = Field(default=503, ge=400, le=599)
    delay_s: float = Field(default=0.5, ge=0)
    topic: str | None = None


class FakeClock:
    """Market time in ms: starts at `start_ms`, runs `speed` times faster than the wall
    clock, and can `jump` ahead (candles close while a client is away)."""

    def __init__(self, start_ms: int | None = None, *, speed: float = 1.0):
        self._lock = threading.Lock()
        self._base = int(time.time() * 1000) if start_ms is None else start_ms
        self._t0 = time.monotonic()
        self._speed = speed

    def __call__(self) -> int:
        with self._lock:
            return self._base + int((time.monotonic() - self._t0) * 1000 * self._speed)

    @property
    def speed(self) -> float:
        return self._speed

    def jump(self, ms: int) -> None:
        """Move market time forward by `ms` at once."""
        with self._lock:
            self._base += ms
