"""`TtlLru`: an in-process LRU with per-entry expiry, the one both in-memory caches use.

`market.MemoryCache` (namespaced bytes for candles and results) and
`agents.MemoryCache` (recorded AI answers) are thin async faces on this store.
No I/O, no threads: callers that share it across threads hold their own lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TtlLru"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlLru(Generic[K, V]):
    """At most `max_entries` values (and `max_weight` in total, when `weigh` is given);
    the least recently used go first, and expired ones are never returned."""

    def __init__(
        self,
        max_entries: int,
        *,
        weigh: Callable[[V], int] | None = None,
        max_weight: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._data: OrderedDict[K, tuple[float | None, V]] = OrderedDict()
        self._max_entries = max_entries
        self._weigh = weigh
        self._max_weight = max_weight
        self._weight = 0
        self._clock = clock

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        """The value, or None when missing or expired."""
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires is not None and expires <= self._clock():
            self.pop(key)
            return None
        self._data.move_to_end(key)
        return value

    def set(self, key: K, value: V, ttl_s: float | None = None) -> bool:
        """Store `value` (None ttl: until evicted). False when it alone outweighs the limit."""
        weight = self._weigh(value) if self._weigh is not None else 0
        if self._max_weight is not None and weight > self._max_weight:
            return False
        self.pop(key)
        self._data[key] = (None if ttl_s is None else self._clock() + ttl_s, value)
        self._weight += weight
        while len(self._data) > self._max_entries or (
            self._max_weight is not None and self._weight > self._max_weight
        ):
            self.pop(next(iter(self._data)))
        return True

    def items(self) -> list[tuple[K, V]]:
        """Every live entry, least recently used first."""
        now = self._clock()
        return [(k, v) for k, (exp, v) in self._data.items() if exp is None or exp > now]

    def pop(self, key: K) -> V | None:
        """Remove `key`; its value, or None."""
        item = self._data.pop(key, None)
        if item is None:
            return None
        if self._weigh is not None:
            self._weight -= self._weigh(item[1])
        return item[1]
