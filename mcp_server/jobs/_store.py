"""Job state shared by the coordinator and every worker: records, cancel flags, chunk
progress and results, under deterministic keys (`bst:job:{id}...`), so a task that runs
again overwrites what its first run wrote instead of adding to it.

`RedisJobStore` when workers run in other processes; `MemoryJobStore` for the embedded
worker thread. Both are sync: Celery tasks call them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeVar

import redis
from pydantic import BaseModel, Field

from mcp_server.errors import BrokerUnavailableError

__all__ = ["JobKind", "JobRecord", "JobState", "JobStore", "MemoryJobStore", "RedisJobStore"]

JobKind = Literal[
    "backtest", "grid", "random", "walk_forward", "bayes", "backfill", "scenarios", "compare"
]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
T = TypeVar("T")


class JobRecord(BaseModel):
    """One job as every surface shows it."""

    id: str
    kind: JobKind
    state: JobState = "queued"
    created: float = Field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    done: int = 0
    total: int = 0
    chunks: int = 1
    error: str | None = None
    request: dict[str, Any] = Field(default_factory=dict, description="What to run (by reference)")

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def done_text(self) -> str:
        return f"{self.done} of {self.total} done"


class JobStore(Protocol):
    """Where job state lives (see the module docstring)."""

    def put(self, record: JobRecord) -> None: ...
    def get(self, job_id: str) -> JobRecord | None: ...
    def list(self, limit: int) -> list[JobRecord]: ...
    def cancel(self, job_id: str) -> None: ...
    def cancelled(self, job_id: str) -> bool: ...
    def chunk_progress(self, job_id: str, chunk: int, done: int) -> int:
        """Record a chunk's rows done; the job's total over every chunk."""
        ...

    def done(self, job_id: str) -> int:
        """Rows done over every chunk."""
        ...

    def chunk_finished(self, job_id: str, chunk: int) -> int:
        """Mark a chunk finished (again is harmless); how many are finished."""
        ...

    def once(self, job_id: str, name: str) -> bool:
        """True the first time (`name`, job) is claimed: one-time transitions."""
        ...

    def put_blob(self, key: str, data: bytes) -> None: ...
    def get_blob(self, key: str) -> bytes | None: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


class MemoryJobStore:
    """In-process store for the embedded worker (jobs end with the process)."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._records: dict[str, JobRecord] = {}
        self._flags: set[tuple[str, str]] = set()
        self._progress: dict[str, dict[int, int]] = {}
        self._finished: dict[str, set[int]] = {}
        self._blobs: dict[str, bytes] = {}

    def put(self, record: JobRecord) -> None:
        with self._lock:
            self._records[record.id] = record.model_copy(deep=True)
            self._expire(time.time())

    def _expire(self, now: float) -> None:
        old = [k for k, r in self._records.items() if now - r.created > self._ttl]
        for job_id in old:
            del self._records[job_id]
            self._progress.pop(job_id, None)
            self._finished.pop(job_id, None)
            self._flags = {f for f in self._flags if f[0] != job_id}
            self._blobs = {k: v for k, v in self._blobs.items() if not k.startswith(f"{job_id}:")}

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            record = self._records.get(job_id)
            return None if record is None else record.model_copy(deep=True)

    def list(self, limit: int) -> list[JobRecord]:
        with self._lock:
            newest = sorted(self._records.values(), key=lambda r: r.created, reverse=True)
            return [r.model_copy(deep=True) for r in newest[:limit]]

    def cancel(self, job_id: str) -> None:
        with self._lock:
            self._flags.add((job_id, "cancel"))

    def cancelled(self, job_id: str) -> bool:
        with self._lock:
            return (job_id, "cancel") in self._flags

    def chunk_progress(self, job_id: str, chunk: int, done: int) -> int:
        with self._lock:
            rows = self._progress.setdefault(job_id, {})
            rows[chunk] = done
            return sum(rows.values())

    def done(self, job_id: str) -> int:
        with self._lock:
            return sum(self._progress.get(job_id, {}).values())

    def chunk_finished(self, job_id: str, chunk: int) -> int:
        with self._lock:
            done = self._finished.setdefault(job_id, set())
            done.add(chunk)
            return len(done)

    def once(self, job_id: str, name: str) -> bool:
        with self._lock:
            if (job_id, name) in self._flags:
                return False
            self._flags.add((job_id, name))
            return True

    def put_blob(self, key: str, data: bytes) -> None:
        with self._lock:
            self._blobs[key] = data

    def get_blob(self, key: str) -> bytes | None:
        with self._lock:
            return self._blobs.get(key)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None


class RedisJobStore:
    """Job state in Redis, shared by the coordinator and workers on any host."""

    def __init__(self, client: redis.Redis, ttl: float, prefix: str = "bst:job") -> None:
        self._r = client
        self._ttl = max(1, int(ttl))
        self._p = prefix

    @classmethod
    def from_url(cls, url: str, ttl: float) -> RedisJobStore:
        # Short timeouts: a store that is down must become a clear error within seconds.
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        return cls(client, ttl)

    def _k(self, job_id: str, *rest: str) -> str:
        return ":".join([self._p, job_id, *rest])

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            where = self._r.connection_pool.connection_kwargs.get("host", "?")
            raise BrokerUnavailableError(
                f"the job store (Redis at {where}) does not answer: {exc}"
            ) from exc

    def put(self, record: JobRecord) -> None:
        def write() -> None:
            pipe = self._r.pipeline()
            pipe.set(self._k(record.id), record.model_dump_json(), ex=self._ttl)
            pipe.zadd(f"{self._p}s", {record.id: record.created})
            pipe.zremrangebyscore(f"{self._p}s", 0, time.time() - self._ttl)
            pipe.execute()

        self._call(write)

    def get(self, job_id: str) -> JobRecord | None:
        raw = self._call(lambda: self._r.get(self._k(job_id)))
        return None if raw is None else JobRecord.model_validate_json(raw)

    def list(self, limit: int) -> list[JobRecord]:
        ids = self._call(lambda: self._r.zrevrange(f"{self._p}s", 0, max(0, limit - 1)))
        raws = self._call(lambda: self._r.mget([self._k(_text(i)) for i in ids])) if ids else []
        return [JobRecord.model_validate_json(raw) for raw in raws if raw is not None]

    def cancel(self, job_id: str) -> None:
        self._call(lambda: self._r.set(self._k(job_id, "cancel"), b"1", ex=self._ttl))

    def cancelled(self, job_id: str) -> bool:
        return bool(self._call(lambda: self._r.exists(self._k(job_id, "cancel"))))

    def chunk_progress(self, job_id: str, chunk: int, done: int) -> int:
        key = self._k(job_id, "progress")

        def write() -> int:
            pipe = self._r.pipeline()
            pipe.hset(key, str(chunk), done)
            pipe.expire(key, self._ttl)
            pipe.hvals(key)
            return sum(int(v) for v in pipe.execute()[2])

        return self._call(write)

    def done(self, job_id: str) -> int:
        values = self._call(lambda: self._r.hvals(self._k(job_id, "progress")))
        return sum(int(v) for v in values)

    def chunk_finished(self, job_id: str, chunk: int) -> int:
        key = self._k(job_id, "finished")

        def write() -> int:
            pipe = self._r.pipeline()
            pipe.sadd(key, chunk)
            pipe.expire(key, self._ttl)
            pipe.scard(key)
            return int(pipe.execute()[2])

        return self._call(write)

    def once(self, job_id: str, name: str) -> bool:
        return bool(
            self._call(lambda: self._r.set(self._k(job_id, name), b"1", nx=True, ex=self._ttl))
        )

    def put_blob(self, key: str, data: bytes) -> None:
        self._call(lambda: self._r.set(f"{self._p}:{key}", data, ex=self._ttl))

    def get_blob(self, key: str) -> bytes | None:
        raw = self._call(lambda: self._r.get(f"{self._p}:{key}"))
        return None if raw is None else raw if isinstance(raw, bytes) else raw.encode()

    def ping(self) -> None:
        self._call(self._r.ping)

    def close(self) -> None:
        self._r.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
