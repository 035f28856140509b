"""The router's response cache on the server's shared cache (memory or Redis).

`agents` defines its own tiny cache protocol and must not import `market`; this
adapter maps it onto `market.Cache`'s `agents` namespace, so recorded answers
live in Redis whenever the server's results do.
"""

from __future__ import annotations

from typing import Any


class AgentsCacheOnMarket:
    """`agents.CacheBackend` over a `market.Cache`."""

    def __init__(self, cache: Any) -> None:
        self._cache = cache

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._cache.get("agents", key)
        return value

    async def set(self, key: str, value: bytes | str, ttl: float | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        await self._cache.set("agents", key, data, ttl)
