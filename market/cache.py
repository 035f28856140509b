"""Caches for hot data: the `Cache` protocol, `RedisCache` and `MemoryCache`.

Values are bytes on the wire; helpers encode JSON and numpy arrays (a JSON
header plus raw little-endian buffers). Nothing is pickled, so a poisoned
cache cannot execute code. Keys live in namespaces (`market`, `backtest`,
`optimization`, `agents`), each with its own default TTL.

A cache never fails a call: if Redis goes away the cache logs one warning,
counts the error and behaves as a miss, and the caller does the work uncached.
"""

from __future__ import annotations

import json
import logging
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, runtime_checkable

import numpy as np

from ohlcv import TtlLru

__all__ = [
    "DEFAULT_TTLS",
    "Cache",
    "CacheStats",
    "MemoryCache",
    "Namespace",
    "RedisCache",
    "decode_arrays",
    "encode_arrays",
]

log = logging.getLogger("market.cache")

Namespace = Literal["market", "backtest", "optimization", "agents"]
DEFAULT_TTLS: Final[dict[str, float]] = {
    "market": 3600.0,
    "backtest": 86_400.0,
    "optimization": 86_400.0,
    "agents": 3600.0,
}
_NAMESPACES: Final = frozenset(DEFAULT_TTLS)


@dataclass
class CacheStats:
    """Counters; `errors` are backend failures that were served as misses."""

    hits: int = 0
    misses: int = 0
    sets: int = 0
    errors: int = 0


@runtime_checkable
class Cache(Protocol):
    """What callers need from a cache. Implementations never raise on backend failure."""

    stats: CacheStats

    async def get(self, namespace: Namespace, key: str) -> bytes | None:
        """The stored bytes, or None on a miss (or a backend failure)."""
        ...

    async def set(
        self, namespace: Namespace, key: str, value: bytes, ttl_s: float | None = None
    ) -> None:
        """Store bytes; `ttl_s` None means the namespace default."""
        ...

    async def delete(self, namespace: Namespace, key: str) -> None:
        """Remove a key if present."""
        ...


def _check(namespace: str) -> None:
    if namespace not in _NAMESPACES:
        raise ValueError(f"unknown cache namespace {namespace!r}; use one of {sorted(_NAMESPACES)}")


def encode_arrays(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Arrays to bytes: 4-byte header length, JSON header (name, dtype, shape), raw buffers."""
    header = []
    blobs = []
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        if a.dtype.hasobject:
            raise TypeError(
                f"array {name!r} has object dtype; only plain numeric arrays are cached"
            )
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        header.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape)})
        blobs.append(a.tobytes())
    head = json.dumps(header).encode()
    return struct.pack("<I", len(head)) + head + b"".join(blobs)


def decode_arrays(data: bytes) -> dict[str, np.ndarray]:
    """Inverse of `encode_arrays` (read-only arrays viewing `data`)."""
    (n,) = struct.unpack_from("<I", data)
    header = json.loads(data[4 : 4 + n])
    offset = 4 + n
    out: dict[str, np.ndarray] = {}
    for item in header:
        dtype = np.dtype(item["dtype"])
        count = int(np.prod(item["shape"])) if item["shape"] else 1
        out[item["name"]] = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(
            item["shape"]
        )
        offset += count * dtype.itemsize
    return out


class _Codecs:
    """JSON and array helpers on top of get/set."""

    stats: CacheStats

    async def get(self, namespace: Namespace, key: str) -> bytes | None:
        raise NotImplementedError

    async def set(
        self, namespace: Namespace, key: str, value: bytes, ttl_s: float | None = None
    ) -> None:
        raise NotImplementedError

    async def get_json(self, namespace: Namespace, key: str) -> Any | None:
        """A JSON value, or None."""
        raw = await self.get(namespace, key)
        return None if raw is None else json.loads(raw)

    async def set_json(
        self, namespace: Namespace, key: str, value: Any, ttl_s: float | None = None
    ) -> None:
        """Store a JSON-serialisable value."""
        await self.set(namespace, key, json.dumps(value, separators=(",", ":")).encode(), ttl_s)

    async def get_arrays(self, namespace: Namespace, key: str) -> dict[str, np.ndarray] | None:
        """Named numpy arrays, or None."""
        raw = await self.get(namespace, key)
        return None if raw is None else decode_arrays(raw)

    async def set_arrays(
        self,
        namespace: Namespace,
        key: str,
        arrays: Mapping[str, np.ndarray],
        ttl_s: float | None = None,
    ) -> None:
        """Store named numpy arrays as raw bytes."""
        await self.set(namespace, key, encode_arrays(arrays), ttl_s)


class MemoryCache(_Codecs):
    """In-process LRU with per-entry TTL (the floor's `TtlLru`); used when no Redis is
    configured."""

    def __init__(
        self,
        *,
        max_entries: int = 1024,
        max_bytes: int = 512 * 1024 * 1024,
        ttls: Mapping[str, float] | None = None,
        clock: Any = time.monotonic,
    ):
        self.stats = CacheStats()
        self._ttls = {**DEFAULT_TTLS, **(ttls or {})}
        self._lru: TtlLru[tuple[str, str], bytes] = TtlLru(
            max_entries, weigh=len, max_weight=max_bytes, clock=clock
        )

    def __len__(self) -> int:
        return len(self._lru)

    async def get(self, namespace: Namespace, key: str) -> bytes | None:
        """See `Cache.get`."""
        _check(namespace)
        value = self._lru.get((namespace, key))
        if value is None:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        return value

    async def set(
        self, namespace: Namespace, key: str, value: bytes, ttl_s: float | None = None
    ) -> None:
        """See `Cache.set`."""
        _check(namespace)
        ttl = self._ttls[namespace] if ttl_s is None else ttl_s
        if self._lru.set((namespace, key), value, ttl):
            self.stats.sets += 1

    async def delete(self, namespace: Namespace, key: str) -> None:
        """See `Cache.delete`."""
        self._lru.pop((namespace, key))


class RedisCache(_Codecs):
    """Redis-backed cache (redis.asyncio). Keys are `<prefix>:<namespace>:<key>`.

    On any Redis failure it warns once, then serves misses and skips writes,
    retrying the server at most every `retry_after_s`.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "bst",
        ttls: Mapping[str, float] | None = None,
        socket_timeout_s: float = 0.5,
        retry_after_s: float = 5.0,
    ):
        import redis.asyncio as redis

        self.stats = CacheStats()
        self.url = url
        self._redis = redis.Redis.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s
        )
        self._prefix = prefix
        self._ttls = {**DEFAULT_TTLS, **(ttls or {})}
        self._retry_after_s = retry_after_s
        self._down_until = 0.0
        self._warned = False

    def _key(self, namespace: str, key: str) -> str:
        _check(namespace)
        return f"{self._prefix}:{namespace}:{key}"

    @property
    def degraded(self) -> bool:
        """True while Redis is considered down."""
        return time.monotonic() < self._down_until

    def _failed(self, exc: BaseException) -> None:
        self.stats.errors += 1
        self._down_until = time.monotonic() + self._retry_after_s
        if not self._warned:
            self._warned = True
            log.warning(
                "Redis cache at %s unavailable (%s); continuing without cache", self.url, exc
            )
        else:
            log.debug("Redis cache still unavailable: %s", exc)

    async def ping(self) -> bool:
        """True if Redis answers now (never raises)."""
        try:
            return bool(await self._redis.ping())
        except Exception as exc:
            self._failed(exc)
            return False

    async def get(self, namespace: Namespace, key: str) -> bytes | None:
        """See `Cache.get`."""
        k = self._key(namespace, key)
        if self.degraded:
            self.stats.misses += 1
            return None
        try:
            value = await self._redis.get(k)
        except Exception as exc:  # any Redis/network failure degrades, never propagates
            self._failed(exc)
            self.stats.misses += 1
            return None
        if value is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return value if isinstance(value, bytes) else str(value).encode()

    async def set(
        self, namespace: Namespace, key: str, value: bytes, ttl_s: float | None = None
    ) -> None:
        """See `Cache.set`."""
        k = self._key(namespace, key)
        if self.degraded:
            return
        ttl = self._ttls[namespace] if ttl_s is None else ttl_s
        try:
            await self._redis.set(k, value, px=max(1, int(ttl * 1000)))
            self.stats.sets += 1
        except Exception as exc:
            self._failed(exc)

    async def delete(self, namespace: Namespace, key: str) -> None:
        """See `Cache.delete`."""
        k = self._key(namespace, key)
        if self.degraded:
            return
        try:
            await self._redis.delete(k)
        except Exception as exc:
            self._failed(exc)

    async def aclose(self) -> None:
        """Close the connection pool."""
        try:
            await self._redis.aclose()
        except Exception as exc:
            log.debug("closing Redis: %s", exc)
