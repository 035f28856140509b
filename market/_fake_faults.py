"""Fault injection and the IP rate-limit window of the fake Bybit server."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Fault", "FaultKind", "FaultQueue", "IpWindow"]

FaultKind = Literal[
    "http_429",
    "http_403",
    "http_5xx",
    "retcode_10000",
    "retcode_10006",
    "retcode_10016",
    "retcode_10018",
    "delay",
    "malformed_json",
]


class Fault(BaseModel):
    """One fault to serve instead of (or before) a normal answer.

    `times` consecutive matching requests get it; `path` limits it to one
    endpoint (e.g. "/v5/market/kline"). For 10006, `headers=False` omits the
    X-Bapi-* headers and `reset_in_ms` sets the reset time relative to now
    (negative = already past). `delay` sleeps `delay_s` then answers normally.
    """

    model_config = ConfigDict(extra="forbid")
    kind: FaultKind
    times: int = Field(default=1, ge=1)
    path: str | None = None
    status: int = Field(default=503, ge=500, le=599)
    headers: bool = True
    reset_in_ms: int = 1000
    delay_s: float = Field(default=1.0, ge=0.0)


class FaultQueue:
    """Thread-safe FIFO of faults, consumed by matching requests."""

    def __init__(self) -> None:
        self._items: list[Fault] = []
        self._lock = threading.Lock()
        self.served = 0

    def push(self, *faults: Fault) -> None:
        """Queue faults; they are served in order."""
        with self._lock:
            self._items.extend(f.model_copy() for f in faults)

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._items.clear()

    def pending(self) -> list[Fault]:
        """A snapshot of the queue."""
        with self._lock:
            return [f.model_copy() for f in self._items]

    def take(self, path: str) -> Fault | None:
        """The next fault for `path`, consuming one of its `times`."""
        with self._lock:
            for i, fault in enumerate(self._items):
                if fault.path is None or fault.path == path:
                    if fault.times <= 1:
                        del self._items[i]
                    else:
                        self._items[i] = fault.model_copy(update={"times": fault.times - 1})
                    self.served += 1
                    return fault
            return None


class IpWindow:
    """Sliding window of `limit` requests per `window_s`; tripping it bans for `ban_s`."""

    def __init__(self, limit: int, window_s: float, ban_s: float):
        self.limit = limit
        self.window_s = window_s
        self.ban_s = ban_s
        self._stamps: deque[float] = deque()
        self._banned_until = 0.0
        self._lock = threading.Lock()
        self.bans = 0
        self.rejected = 0

    @property
    def banned(self) -> bool:
        """Whether a ban is in force now."""
        return time.monotonic() < self._banned_until

    def lift(self) -> None:
        """End any ban and forget the window (control endpoint / tests)."""
        with self._lock:
            self._banned_until = 0.0
            self._stamps.clear()

    def admit(self) -> bool:
        """Count one request; False if it must be answered with 403."""
        now = time.monotonic()
        with self._lock:
            if now < self._banned_until:
                self.rejected += 1
                return False
            self._stamps.append(now)
            while self._stamps and self._stamps[0] <= now - self.window_s:
                self._stamps.popleft()
            if len(self._stamps) > self.limit:
                self._banned_until = now + self.ban_s
                self.bans += 1
                self.rejected += 1
                return False
            return True
