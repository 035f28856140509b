"""The job-event contract every producer (jobs, workers, admin backfill) and reader (REST SSE,
CLI watch, MCP progress, metrics consumer) codes against. Two implementations: in-process
(no Redis configured) and Redis Streams (a per-job stream and a global one)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

__all__ = ["EVENT_KINDS", "EventBus", "EventKind", "JobEvent"]

EventKind = Literal[
    "queued", "started", "progress", "chunk_done", "retry", "cancelled", "succeeded", "failed"
]
EVENT_KINDS: tuple[EventKind, ...] = (
    "queued",
    "started",
    "progress",
    "chunk_done",
    "retry",
    "cancelled",
    "succeeded",
    "failed",
)
TERMINAL: frozenset[str] = frozenset({"cancelled", "succeeded", "failed"})


class JobEvent(BaseModel):
    """One event of one job. `id` is the stream id (`<ms>-<seq>`), the same in the job's
    stream and the global one, so a reader resumes from it (SSE `Last-Event-ID`)."""

    id: str
    job_id: str
    kind: EventKind
    at: float = Field(description="Unix time in seconds")
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL


class EventBus(Protocol):
    """Append and read job events. Sync on purpose: Celery tasks and worker threads call
    it; async code wraps reads in `anyio.to_thread.run_sync`."""

    def emit(self, job_id: str, kind: EventKind, **data: Any) -> str:
        """Append one event to the job's stream and the global stream; its id. A
        `progress` event whose `done` is not above the job's highest one so far is dropped
        (id ""): a job's progress never goes backwards, whichever process emits it."""
        ...

    def read(
        self, job_id: str | None, after: str = "0", *, block_s: float = 0.0, count: int = 100
    ) -> list[JobEvent]:
        """Events after id `after` (`"0"`: from the start) of one job, or of all jobs when
        `job_id` is None; blocks up to `block_s` for the first one (never a polling loop)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
