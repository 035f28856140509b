"""The result cache of the server: `market.cache` backends (memory or Redis) behind a tiny adapter.

Backtest summaries, charts and analysis answers are cached by a key built from
the data fingerprint and every input. A cache failure is a miss, never an error
(the market backends guarantee that); the adapter adds JSON/bytes helpers and
counts upstream errors for /metrics.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from market.cache import Cache, MemoryCache, RedisCache

__all__ = ["AgentsCache", "ResultCache", "make_cache"]

log = logging.getLogger("mcp_server.cache")

Namespace = Literal["market", "backtest", "optimization", "agents"]


class ResultCache:
    """JSON and bytes on top of a `market.cache.Cache`."""

    def __init__(self, backend: Cache, *, ttl_s: float | None = None) -> None:
        self.backend = backend
        self.ttl_s = ttl_s

    @property
    def kind(self) -> str:
        """`redis` or `memory`, for /health."""
        return "redis" if isinstance(self.backend, RedisCache) else "memory"

    async def get_bytes(self, namespace: Namespace, key: str) -> bytes | None:
        return await self.backend.get(namespace, key)

    async def set_bytes(self, namespace: Namespace, key: str, value: bytes) -> None:
        await self.backend.set(namespace, key, value, self.ttl_s)

    async def get_json(self, namespace: Namespace, key: str) -> Any | None:
        raw = await self.backend.get(namespace, key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            log.warning("cache entry %s:%s is not JSON; ignoring it", namespace, key[:12])
            return None

    async def set_json(self, namespace: Namespace, key: str, value: Any) -> None:
        await self.backend.set(
            namespace, key, json.dumps(value, separators=(",", ":")).encode(), self.ttl_s
        )

    async def health(self) -> dict[str, Any]:
        """Backend kind, reachability and counters."""
        out: dict[str, Any] = {"kind": self.kind, "ok": True}
        if isinstance(self.backend, RedisCache):
            out["ok"] = await self.backend.ping()
        stats = getattr(self.backend, "stats", None)
        if stats is not None:
            out.update(hits=stats.hits, misses=stats.misses, errors=stats.errors)
        return out

    async def aclose(self) -> None:
        close = getattr(self.backend, "aclose", None)
        if close is not None:
            await close()


def make_cache(url: str, ttl_s: float) -> ResultCache:
    """`memory://` -> in-process LRU; `redis://...`/`rediss://...` -> Redis."""
    ttl = ttl_s if ttl_s > 0 else None
    if url.startswith(("redis://", "rediss://", "unix://")):
        return ResultCache(RedisCache(url), ttl_s=ttl)
    return ResultCache(MemoryCache(max_entries=4096), ttl_s=ttl)


class AgentsCache:
    """The router's response store (`agents.CacheBackend`) on the server's cache, in its
    `agents` namespace, so recorded answers live in Redis whenever results do."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    async def get(self, key: str) -> bytes | None:
        return await self._cache.get("agents", key)

    async def set(self, key: str, value: bytes | str, ttl: float | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        await self._cache.set("agents", key, data, ttl)
