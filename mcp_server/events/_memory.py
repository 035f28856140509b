"""The in-process event bus: used when no BST_EVENTS_URL is set (CLI, MCP stdio, demos).

Same semantics as the Redis one: ids grow, one id per event in both the job's stream and
the global one, streams are bounded (trimmed in batches, like `MAXLEN ~`), and a read
blocks on a condition variable until an event arrives (no polling)."""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from typing import Any

from mcp_server.events._contract import EventKind, JobEvent
from mcp_server.events._ids import StreamId, format_id, next_id, parse_id

__all__ = ["MemoryEventBus"]

_Entry = tuple[StreamId, JobEvent]


class _Stream:
    """Entries in id order, trimmed to about `maxlen` (a 10 % slack keeps trimming rare)."""

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.entries: list[_Entry] = []

    def append(self, entry: _Entry) -> None:
        self.entries.append(entry)
        if len(self.entries) > self.maxlen + max(1, self.maxlen // 10):
            del self.entries[: len(self.entries) - self.maxlen]

    def after(self, start: StreamId, count: int) -> list[JobEvent]:
        at = bisect.bisect_right(self.entries, start, key=lambda e: e[0])
        return [event for _, event in self.entries[at : at + count]]


class MemoryEventBus:
    """Thread-safe in-process bus. `maxlen` bounds each stream; `max_jobs` bounds how many
    job streams are kept (the least recently written go first, as Redis expires them)."""

    def __init__(self, *, maxlen: int = 10_000, max_jobs: int = 10_000) -> None:
        if maxlen < 1 or max_jobs < 1:
            raise ValueError("maxlen and max_jobs must be at least 1")
        self._cond = threading.Condition()
        self._maxlen = maxlen
        self._max_jobs = max_jobs
        self._global = _Stream(maxlen)
        self._jobs: OrderedDict[str, _Stream] = OrderedDict()
        self._done: dict[str, float] = {}  # job id -> highest progress `done` emitted
        self._last: StreamId = (0, 0)
        self._closes = 0  # bumped by close(): wakes the readers blocked at that moment

    def emit(self, job_id: str, kind: EventKind, **data: Any) -> str:
        with self._cond:
            done = data.get("done") if kind == "progress" else None
            if isinstance(done, int | float) and not isinstance(done, bool):
                if done <= self._done.get(job_id, -1):
                    return ""  # progress never goes backwards (see EventBus.emit)
                self._done[job_id] = done
            self._last = next_id(self._last)
            event = JobEvent(
                id=format_id(self._last), job_id=job_id, kind=kind, at=time.time(), data=data
            )
            entry = (self._last, event)
            self._global.append(entry)
            stream = self._jobs.get(job_id)
            if stream is None:
                stream = self._jobs[job_id] = _Stream(self._maxlen)
                while len(self._jobs) > self._max_jobs:
                    gone, _ = self._jobs.popitem(last=False)
                    self._done.pop(gone, None)
            else:
                self._jobs.move_to_end(job_id)
            stream.append(entry)
            self._cond.notify_all()
            return event.id

    def read(
        self, job_id: str | None, after: str = "0", *, block_s: float = 0.0, count: int = 100
    ) -> list[JobEvent]:
        with self._cond:
            start = self._last if after == "$" else parse_id(after)
            deadline = time.monotonic() + max(0.0, block_s)
            closes = self._closes
            while True:
                found = self._after(job_id, start, max(1, count))
                remaining = deadline - time.monotonic()
                if found or remaining <= 0 or closes != self._closes:
                    return found
                self._cond.wait(remaining)

    def _after(self, job_id: str | None, start: StreamId, count: int) -> list[JobEvent]:
        stream = self._global if job_id is None else self._jobs.get(job_id)
        return [] if stream is None else stream.after(start, count)

    def length(self) -> int:
        """Events kept in the global stream."""
        with self._cond:
            return len(self._global.entries)

    def close(self) -> None:
        """Wake the readers blocked now (they return what they have). Nothing else changes:
        the events stay, and later reads block as usual (a closed flag that made every
        read return at once would turn a follower's loop into a busy spin)."""
        with self._cond:
            self._closes += 1
            self._cond.notify_all()
