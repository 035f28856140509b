"""Response cache: the storage protocol, two stores, and the cache key.

The router stores normalised provider responses under a key that hashes
(provider, model, payload) with every secret-looking field removed, so keys
are stable across machines and never reveal a credential. The same store
serves `record`/`replay`/`offline` modes (recorded responses as cassettes)
and the `live` response cache. The server wires the protocol to Redis; this
package ships an in-memory store and a directory store.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ohlcv import TtlLru

__all__ = ["CacheBackend", "FileCache", "MemoryCache", "cache_key", "scrub_secrets"]

_SECRET_MARKERS = ("api_key", "apikey", "authorization", "secret", "token", "password", "bearer")
# Token *counts* are not secrets; these names carry "token" but must stay in the key.
_NOT_SECRET = {"max_tokens", "max_output_tokens", "max_completion_tokens"}


@runtime_checkable
class CacheBackend(Protocol):
    """Async key-value store; `ttl` in seconds, None = keep until evicted."""

    async def get(self, key: str) -> bytes | str | None:
        """The stored value, or None when missing or expired."""
        ...

    async def set(self, key: str, value: bytes | str, ttl: float | None = None) -> None:
        """Store `value` under `key`."""
        ...


class MemoryCache:
    """In-process LRU store with per-entry TTL (the floor's `TtlLru`)."""

    def __init__(
        self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lru: TtlLru[str, bytes | str] = TtlLru(max_entries, clock=clock)

    async def get(self, key: str) -> bytes | str | None:
        """See CacheBackend.get."""
        return self._lru.get(key)

    async def set(self, key: str, value: bytes | str, ttl: float | None = None) -> None:
        """See CacheBackend.set."""
        self._lru.set(key, value, ttl)

    def items(self) -> list[tuple[str, bytes | str]]:
        """Every live entry (for inspection: what did the router store?)."""
        return self._lru.items()

    def __len__(self) -> int:
        return len(self._lru)


class FileCache:
    """One JSON file per key in a directory: recorded responses survive the process.

    Writes are atomic (temp file + rename) so a crash never leaves half a cassette.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._dir = Path(directory)

    def _path(self, key: str) -> Path:
        # Hash the key: keys contain ':' and may be long; file names must be portable.
        return self._dir / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    async def get(self, key: str) -> bytes | str | None:
        """See CacheBackend.get."""
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> str | None:
        try:
            record = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        expires = record.get("expires")
        if expires is not None and time.time() >= expires:
            return None
        value = record.get("value")
        return value if isinstance(value, str) else None

    async def set(self, key: str, value: bytes | str, ttl: float | None = None) -> None:
        """See CacheBackend.set."""
        await asyncio.to_thread(self._set, key, value, ttl)

    def _set(self, key: str, value: bytes | str, ttl: float | None) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        text = value.decode() if isinstance(value, bytes) else value
        record = {"key": key, "expires": None if ttl is None else time.time() + ttl, "value": text}
        fd, tmp = tempfile.mkstemp(dir=self._dir, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        os.replace(tmp, self._path(key))


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered not in _NOT_SECRET and any(marker in lowered for marker in _SECRET_MARKERS)


def scrub_secrets(value: Any) -> Any:
    """A copy of `value` without any mapping entry whose name looks like a credential."""
    if isinstance(value, dict):
        return {k: scrub_secrets(v) for k, v in value.items() if not _is_secret(str(k))}
    if isinstance(value, list | tuple):
        return [scrub_secrets(v) for v in value]
    return value


def cache_key(provider: str, model: str, payload: dict[str, Any]) -> str:
    """sha256 of canonical JSON of (provider, model, payload minus secrets)."""
    canonical = json.dumps(
        {"provider": provider, "model": model, "payload": scrub_secrets(payload)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return "agents:resp:" + hashlib.sha256(canonical.encode()).hexdigest()
