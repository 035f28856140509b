"""Token-bucket request limiter shared by every window of a backfill.

Two rules are enforced together: a bucket refilled at `rate` tokens/s holding at
most `burst`, and a sliding-window cap (Bybit's 600 requests per 5 s per IP,
minus a safety margin) so that no burst, however timed, can trip the IP ban.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Async token bucket plus sliding-window cap; `acquire()` waits for a slot."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        window_limit: int = 590,
        window_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst)
        self.window_limit = window_limit
        self.window_s = window_s
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._recent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.acquired = 0

    def _delay(self, now: float) -> float:
        elapsed = now - self._stamp
        self._stamp = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        wait = 0.0
        if self._tokens < 1.0 - 1e-9:  # tolerance: float refills land a hair short of 1
            wait = max(wait, (1.0 - self._tokens) / self.rate)
        while self._recent and self._recent[0] <= now - self.window_s:
            self._recent.popleft()
        if len(self._recent) >= self.window_limit:
            wait = max(wait, self._recent[0] + self.window_s - now)
        return wait

    async def acquire(self) -> None:
        """Wait until a request may be sent, then consume one token."""
        async with self._lock:
            # Holding the lock while sleeping serialises waiters in FIFO order,
            # which is exactly the spacing we want.
            while (wait := self._delay(self._clock())) > 0:
                await asyncio.sleep(wait)
            self._tokens -= 1.0
            self._recent.append(self._clock())
            self.acquired += 1
