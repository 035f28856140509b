"""The seeds' admin backfill: fetch a symbol's candles for a window into the local store,
reporting through the job-event bus (`queued`, `started`, `progress`, `succeeded` or
`failed`), so its status can be read by id from any process that shares the bus.

`start_backfill` queues async work as a job on the `backfill` queue (`context.jobs`): on
the workers when a broker is configured, so it survives this process, else on the
embedded worker thread. Its task id is the job id; `backfill_status` folds the job's
record and events. The sync mode runs here, in the request."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import market as M
from mcp_server.candles import Category
from mcp_server.context import AppContext
from mcp_server.errors import EventBusUnavailableError, JobNotFoundError, JobStateError, describe
from mcp_server.events import EventBus, EventKind
from ohlcv import format_iso, interval_ms, normalize_interval

if TYPE_CHECKING:
    from mcp_server._recording import Recording
    from mcp_server.jobs import JobService

__all__ = [
    "BackfillRequest",
    "BackfillResult",
    "BackfillStatus",
    "backfill_status",
    "run_backfill",
    "start_backfill",
]

log = logging.getLogger("mcp_server.backfill")
_MINUTE_MS = 60_000
_SYNC_PREFIX = "backfill-"  # the id of a backfill run in the request (not a job)


class BackfillRequest(BaseModel):
    """The seeds' body: a window by `lookback_minutes` (up to `end_at_iso` or now) or by
    `start_at_iso`..`end_at_iso`; at most `max_pages` pages of `page_limit` candles (a
    longer window keeps its newest part and says `truncated`)."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=r"^[A-Za-z0-9]{2,24}$")
    interval: str = "1"
    lookback_minutes: int | None = Field(None, ge=1, le=20 * 366 * 24 * 60)
    start_at_iso: datetime | None = None
    end_at_iso: datetime | None = None
    page_limit: int = Field(1000, ge=1, le=1000)
    max_pages: int = Field(500, ge=1, le=100_000)
    mode: Literal["sync", "async"] = "sync"
    category: Category = "linear"

    @field_validator("symbol")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> str:
        try:
            return normalize_interval(str(value).strip())
        except ValueError:
            raise ValueError("not a Bybit interval: 1,3,5,15,30,60,120,240,360,720,D,W,M") from None

    @field_validator("start_at_iso", "end_at_iso")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @model_validator(mode="after")
    def _one_window(self) -> BackfillRequest:
        if (self.lookback_minutes is None) == (self.start_at_iso is None):
            raise ValueError("give lookback_minutes or start_at_iso (with optional end_at_iso)")
        if self.start_at_iso and self.end_at_iso and self.start_at_iso >= self.end_at_iso:
            raise ValueError("start_at_iso must be before end_at_iso")
        return self

    def window(self, now_ms: int) -> tuple[int, int, bool]:
        """(start ms, end ms, truncated) with the page cap applied."""
        end = int(self.end_at_iso.timestamp() * 1000) if self.end_at_iso else now_ms
        if self.start_at_iso is not None:
            start = int(self.start_at_iso.timestamp() * 1000)
        else:
            start = end - (self.lookback_minutes or 0) * _MINUTE_MS
        step = interval_ms(self.interval)
        cap = self.page_limit * self.max_pages * step
        return (end - cap + step, end, True) if end - start >= cap else (start, end, False)


class BackfillResult(BaseModel):
    """The seeds' sync answer (`upserts`: candles written, `pages`: exchange requests) plus
    the window actually fetched."""

    mode: Literal["sync", "async"]
    symbol: str
    interval: str
    upserts: int
    pages: int
    elapsed_sec: float
    rows_per_sec: float
    fetched: int
    start_iso: str
    end_iso: str
    truncated: bool


class BackfillStatus(BaseModel):
    """An async backfill, folded from its events."""

    task_id: str
    status: EventKind
    progress: dict[str, Any] = {}
    result: dict[str, Any] | None = None
    error: str | None = None
    events: int


async def _emit(
    bus: EventBus, job_id: str, kind: EventKind, *, required: bool = False, **data: Any
) -> None:
    """Emit off the event loop (Redis I/O). Only a `required` event may fail the backfill:
    the others are reports, and losing one must not lose the candles."""
    try:
        await anyio.to_thread.run_sync(lambda: bus.emit(job_id, kind, **data))
    except EventBusUnavailableError:
        if required:
            raise
        log.warning("backfill %s: %s event not recorded, the event bus is down", job_id, kind)


async def run_backfill(
    context: AppContext, request: BackfillRequest, job_id: str, *, base_url: str | None = None,
    recording: Recording | None = None,
) -> BackfillResult:  # fmt: skip
    """Fetch the window into the store now; events go to `job_id`'s stream. `base_url`:
    the exchange the submitting server is configured for (default: this context's). The
    backfill's audit goes to the catalog through `recording` (default: the context's)."""
    bus = context.events()
    start, end, truncated = request.window(int(time.time() * 1000))
    key = M.DatasetKey.of(request.category, request.symbol, request.interval)
    await _emit(bus, job_id, "started", symbol=key.symbol, interval=key.interval,
                start=format_iso(start), end=format_iso(end), truncated=truncated)  # fmt: skip
    config = _client_config(context, base_url, request.page_limit)
    reports: list[asyncio.Future[None]] = []
    on_progress = _progress_sink(bus, job_id, reports)
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient() as http:
            market = M.MarketData(context.store, M.BybitClient(http, config))
            report = await market.fill(key, start, end, on_progress=on_progress)
    except Exception as exc:
        await _emit(bus, job_id, "failed", error=describe(exc))
        raise
    finally:
        await asyncio.gather(*reports, return_exceptions=True)
    elapsed = time.perf_counter() - started
    result = BackfillResult(
        mode=request.mode, symbol=key.symbol, interval=key.interval, upserts=report.added,
        pages=report.requests, elapsed_sec=round(elapsed, 3),
        rows_per_sec=round(report.added / elapsed, 1) if elapsed > 0 else 0.0,
        fetched=report.fetched, start_iso=format_iso(start), end_iso=format_iso(end),
        truncated=truncated,
    )  # fmt: skip
    await _audit(recording or context.recording, job_id, key, (start, end), report, elapsed,
                 config.base_url)  # fmt: skip
    await _emit(bus, job_id, "succeeded", **result.model_dump())
    return result


async def _audit(recording: Recording, job_id: str, key: M.DatasetKey, window: tuple[int, int],
                 report: M.BackfillReport, elapsed: float, base_url: str) -> None:  # fmt: skip
    """Record the backfill in the catalog's audit (never fails it: the candles are in)."""
    from mcp_server.catalog import BackfillItem

    parts = urlsplit(base_url)
    source = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))  # no credentials
    await recording.record(lambda: BackfillItem(
        id=job_id, symbol=key.symbol, interval=key.interval, category=key.category,
        start_ms=window[0], end_ms=window[1], upserts=report.added, pages=report.requests,
        elapsed_s=round(elapsed, 3), source=source, job_id=None if job_id.startswith(_SYNC_PREFIX) else job_id,
    ))  # fmt: skip


def _client_config(context: AppContext, base_url: str | None, page_limit: int) -> M.ClientConfig:
    """The exchange client's config: `base_url`, else this context's BST_BYBIT_BASE_URL."""
    base = base_url or context.settings.server.bybit_base_url
    if base:
        return M.ClientConfig(base_url=base, page_limit=page_limit)
    return M.ClientConfig(page_limit=page_limit)


def _progress_sink(
    bus: EventBus, job_id: str, reports: list[asyncio.Future[None]],
    check: Callable[[], None] | None = None,
) -> Callable[[M.FetchProgress], None]:  # fmt: skip
    """A fetch progress callback emitting `progress` events (candles so far as `done`) at
    most 4 times a second (a page can take 1 ms); `check` runs first (it may raise to stop
    the fetch, e.g. when the job is cancelled). Await `reports` before returning."""
    loop = asyncio.get_running_loop()
    last_report = [0.0]

    def on_progress(p: M.FetchProgress) -> None:
        if check is not None:
            check()
        now = time.monotonic()
        if now - last_report[0] >= 0.25:
            last_report[0] = now
            report = _emit(bus, job_id, "progress", candles=p.candles, expected=p.expected,
                           pages=p.requests, done=p.candles, total=max(p.expected, p.candles))  # fmt: skip
            reports.append(asyncio.ensure_future(report, loop=loop))

    return on_progress


async def run_history(
    context: AppContext, request: BackfillRequest, start: int, end: int, job_id: str, *,
    base_url: str | None = None, check: Callable[[], None] | None = None,
    recording: Recording | None = None,
) -> dict[str, Any]:  # fmt: skip
    """fetch_history's backfill of exactly `start`..`end` (ms), as a job: the store's
    read-through fill, which an exchange error ends instead of raising (calling again
    resumes), then its account (in the catalog's audit too, through `recording`: default
    the context's). The tool's answer, with `error` (the error and its fix) when it gained
    nothing."""
    from mcp_server.tools.market import history_report  # the tools import this module

    key = M.DatasetKey.of(request.category, request.symbol, request.interval)
    config = _client_config(context, base_url, request.page_limit)
    reports: list[asyncio.Future[None]] = []
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient() as http:
            client = M.BybitClient(http, config)
            market = M.MarketData(context.store, client, context.cache.backend)
            sink = _progress_sink(context.events(), job_id, reports, check)
            report = await market.backfill(key, start, end, on_progress=sink)
    finally:
        await asyncio.gather(*reports, return_exceptions=True)
    await _audit(recording or context.recording, job_id, key, (start, end), report,
                 time.perf_counter() - started, config.base_url)  # fmt: skip
    infos = await anyio.to_thread.run_sync(context.store.datasets)
    total = next((i.candles for i in infos if i.key == key), None)
    body = history_report(key, start, end, report, total).model_dump(mode="json")
    failed = report.error is not None and report.added == 0 and not report.complete
    return {**body, "error": describe(report.error) if failed and report.error else None}


def new_task_id() -> str:
    return f"{_SYNC_PREFIX}{uuid.uuid4().hex[:16]}"


async def start_backfill(context: AppContext, request: BackfillRequest) -> str:
    """Queue the backfill as a job and return its id at once (the job's `queued` event
    is written first, so the status is readable as soon as the id is)."""
    jobs = context.jobs
    base = context.settings.server.bybit_base_url
    record = await anyio.to_thread.run_sync(lambda: jobs.submit_backfill(request, base_url=base))
    return record.id


def backfill_status(jobs: JobService, task_id: str) -> BackfillStatus | None:
    """The backfill job's state from its record and events (sync: run it in a thread);
    None if there is no such backfill."""
    try:
        record = jobs.get(task_id)
    except JobNotFoundError:
        return None
    if record.kind != "backfill":
        return None
    events = jobs.bus.read(task_id, "0", count=100_000)
    kind: EventKind = events[-1].kind if events else "queued"
    status = BackfillStatus(
        task_id=task_id,
        status=cast(EventKind, record.state) if record.terminal else kind,
        error=record.error,
        events=len(events),
    )
    for event in events:
        if event.kind == "progress":
            status.progress = event.data
    if record.state == "succeeded":
        with suppress(JobNotFoundError, JobStateError):  # expired: the status still says so
            status.result = jobs.result(task_id, ("backfill",))
    return status
