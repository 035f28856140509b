"""The job-event bus on Redis Streams.

Each event is appended, in one Lua script (atomic: no reader ever sees it in one stream
only), to the global stream `{prefix}:jobs` with a fresh id and then to the job's stream
`{prefix}:job:{id}` with the SAME id, both trimmed with `MAXLEN ~`. The job's stream
expires `ttl_s` after its last event. Ids come from the global stream: every id in a job
stream was a global id first, so the job stream's explicit id always grows too.

Reads use `XREAD BLOCK` on a connection of their own whose socket timeout exceeds the
longest block, so a waiting reader never holds up emitters nor times out while waiting."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mcp_server.errors import PROBLEMS, EventBusUnavailableError
from mcp_server.events._contract import EventKind, JobEvent
from mcp_server.events._ids import parse_id

__all__ = ["RedisEventBus", "StreamKeys"]

T = TypeVar("T")

_EMIT = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
    'job', ARGV[3], 'kind', ARGV[4], 'at', ARGV[5], 'data', ARGV[6])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id,
    'job', ARGV[3], 'kind', ARGV[4], 'at', ARGV[5], 'data', ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return id
"""

# A progress event is appended only if its `done` is above the highest one emitted for the
# job (kept at KEYS[3]), checked and set in the same script: chunks of one job run in several
# worker processes, and their events must never make the job's progress go backwards.
_EMIT_PROGRESS = (
    """
local seen = tonumber(redis.call('GET', KEYS[3]) or '-1')
if tonumber(ARGV[8]) <= seen then
    return false
end
redis.call('SET', KEYS[3], ARGV[8], 'EX', ARGV[7])
"""
    + _EMIT
)


class StreamKeys:
    """The key names under one prefix."""

    def __init__(self, prefix: str = "bst") -> None:
        self.prefix = prefix
        self.jobs = f"{prefix}:jobs"
        self.dead = f"{prefix}:jobs:dead"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def progress(self, job_id: str) -> str:
        """The highest `done` a progress event of the job carried."""
        return f"{self.prefix}:progress:{job_id}"


def where(client: redis.Redis) -> str:
    """host:port/db of a client, without credentials (they never reach a message)."""
    kw = client.connection_pool.connection_kwargs
    if "path" in kw:
        return f"unix:{kw['path']}"
    return f"{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"


@contextmanager
def unavailable_as_error(client: redis.Redis) -> Iterator[None]:
    """Connection failures as EventBusUnavailableError (what failed and how to fix it)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise EventBusUnavailableError(
            f"the job-event bus at redis {where(client)} did not answer ({type(exc).__name__}); "
            + PROBLEMS[EventBusUnavailableError].hint
        ) from None


def to_event(entry_id: str, fields: dict[str, str], job_id: str | None = None) -> JobEvent:
    """A stream entry as a JobEvent."""
    return JobEvent(
        id=entry_id,
        job_id=fields.get("job", job_id or ""),
        kind=fields["kind"],  # type: ignore[arg-type]  # validated by the model
        at=float(fields.get("at", 0.0)),
        data=json.loads(fields.get("data", "{}")),
    )


def stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of an XREAD/XREADGROUP reply on one stream, whichever protocol the
    client speaks (RESP2: `[[key, entries]]`, RESP3: `{key: [entries]}`)."""
    if not reply:
        return []
    streams = reply.values() if isinstance(reply, dict) else (entries for _, entries in reply)
    out: list[tuple[str, dict[str, str]]] = []
    for entries in streams:
        out.extend((str(eid), dict(fields)) for eid, fields in entries)
    return out


def connect(url: str, *, socket_timeout: float) -> redis.Redis:
    """A client that fails fast when Redis is down: 2 s to connect and no retry loop
    (redis-py's default retries with backoff would turn "down" into many seconds)."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2.0,
        socket_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
    )


class RedisEventBus:
    """Events on Redis Streams (see the module docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        reader: redis.Redis | None = None,
        *,
        prefix: str = "bst",
        maxlen_job: int = 10_000,
        maxlen_global: int = 100_000,
        ttl_s: int = 7 * 86_400,
        max_block_s: float = 30.0,
    ) -> None:
        self.client = client
        self.reader = reader or client
        self.keys = StreamKeys(prefix)
        self.maxlen_job = maxlen_job
        self.maxlen_global = maxlen_global
        self.ttl_s = ttl_s
        self.max_block_s = max_block_s
        self._emit = client.register_script(_EMIT)
        self._emit_progress = client.register_script(_EMIT_PROGRESS)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisEventBus:
        """A bus with its own emitter and blocking-reader connections."""
        max_block = float(options.get("max_block_s", 30.0))
        return cls(
            connect(url, socket_timeout=5.0),
            connect(url, socket_timeout=max_block + 10.0),
            **options,
        )

    def _call(self, client: redis.Redis, fn: Callable[[], T]) -> T:
        with unavailable_as_error(client):
            return fn()

    def emit(self, job_id: str, kind: EventKind, **data: Any) -> str:
        JobEvent(id="0-0", job_id=job_id, kind=kind, at=0.0)  # a bad kind fails before Redis
        args: list[str | int] = [self.maxlen_global, self.maxlen_job, job_id, kind, repr(time.time()),
                json.dumps(data, default=str), self.ttl_s]  # fmt: skip
        keys = [self.keys.jobs, self.keys.job(job_id)]
        done = data.get("done") if kind == "progress" else None
        if isinstance(done, int | float) and not isinstance(done, bool):
            keys.append(self.keys.progress(job_id))
            args.append(repr(float(done)))
            got = self._call(self.client, lambda: self._emit_progress(keys=keys, args=args))
            return "" if got is None else str(got)  # "": not above what was emitted, dropped
        return str(self._call(self.client, lambda: self._emit(keys=keys, args=args)))

    def read(
        self, job_id: str | None, after: str = "0", *, block_s: float = 0.0, count: int = 100
    ) -> list[JobEvent]:
        if after != "$":
            parse_id(after)
        key = self.keys.jobs if job_id is None else self.keys.job(job_id)
        block = min(block_s, self.max_block_s)
        block_ms = max(1, int(block * 1000)) if block > 0 else None
        client = self.reader if block_ms else self.client
        reply: Any = self._call(
            client, lambda: client.xread({key: after}, count=max(1, count), block=block_ms)
        )
        return [to_event(eid, fields, job_id) for eid, fields in stream_entries(reply)]

    def close(self) -> None:
        for client in {id(self.client): self.client, id(self.reader): self.reader}.values():
            client.close()
