"""What the catalog takes and gives back (pydantic: they cross threads, processes, the
on-disk spool of records the database refused, and every surface)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BackfillItem",
    "CatalogItem",
    "JobItem",
    "OptimizationItem",
    "RunDetail",
    "RunItem",
    "RunLine",
    "RunPage",
    "RunQuery",
]

JobStateName = Literal["queued", "running", "succeeded", "failed", "cancelled"]
# Blobs are raw bytes in Python and base64 only in JSON (the spool): pydantic's Base64Bytes
# would instead base64-*decode* the raw NPY bytes a caller hands over.
_BLOBS = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")


class RunItem(BaseModel):
    """One backtest to record; `key` (the sha256 of its inputs) makes it idempotent."""

    model_config = _BLOBS

    item: Literal["run"] = "run"
    id: str
    key: str
    created: float = Field(default_factory=time.time)
    request: dict[str, Any]  # data spec, fingerprint, strategy, resolved params, config
    summary: dict[str, Any]  # the engine's summary with every metric
    trades: bytes = b""  # NPY of the engine's (n, 11) trade matrix
    equity: bytes = b""  # NPY (2, k): bar times and equity, outlined to <= 4,000 points
    origin: str = ""
    job_id: str | None = None

    def spool_name(self) -> str:
        return f"run-{self.key}"


class OptimizationItem(BaseModel):
    """One search or walk-forward to record, with its full table as a blob."""

    model_config = _BLOBS

    item: Literal["optimization"] = "optimization"
    id: str
    key: str
    kind: str  # grid, random, bayes, walk_forward
    created: float = Field(default_factory=time.time)
    request: dict[str, Any]  # data spec, fingerprint, strategy, space, objective, options
    summary: dict[str, Any]
    table: bytes = b""  # zlib'd JSON of the table every surface shows
    origin: str = ""
    job_id: str | None = None

    def spool_name(self) -> str:
        return f"optimization-{self.key}"


class JobItem(BaseModel):
    """A job's state as of now: a later state replaces an earlier one, never the reverse."""

    item: Literal["job"] = "job"
    id: str
    kind: str
    state: JobStateName
    created: float
    started: float | None = None
    finished: float | None = None
    worker: str = ""
    attempts: int = 0
    error: str | None = None
    result_id: str | None = None

    def spool_name(self) -> str:
        return f"job-{self.id}-{self.state}"


class BackfillItem(BaseModel):
    """One backfill of candles, as the audit keeps it."""

    item: Literal["backfill"] = "backfill"
    id: str
    created: float = Field(default_factory=time.time)
    symbol: str
    interval: str
    category: str
    start_ms: int
    end_ms: int
    upserts: int
    pages: int
    elapsed_s: float
    source: str
    job_id: str | None = None

    def spool_name(self) -> str:
        return f"backfill-{self.id}"


CatalogItem = RunItem | OptimizationItem | JobItem | BackfillItem


class RunQuery(BaseModel):
    """A listing of runs: filters, one sort key (`created` or any metric) and a page."""

    symbol: str | None = None
    strategy: str | None = None
    interval: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    metric_min: dict[str, float] = Field(default_factory=dict)
    metric_max: dict[str, float] = Field(default_factory=dict)
    sort: str = "created"
    descending: bool = True
    limit: int = Field(20, ge=1, le=500)
    offset: int = Field(0, ge=0)


class RunLine(BaseModel):
    """One run in a listing."""

    id: str
    created: str = Field(description="ISO time (UTC) the run was recorded")
    strategy: str
    params: dict[str, Any]
    symbol: str
    interval: str
    source: str
    bars: int
    trades: int
    metrics: dict[str, float | int | None]
    tags: list[str]


class RunPage(BaseModel):
    total: int = Field(description="Runs matching the filters")
    offset: int
    runs: list[RunLine]
    next_offset: int | None = Field(description="Offset of the next page (None: last page)")


class RunDetail(BaseModel):
    """Everything the catalog holds about one run, but its arrays."""

    id: str
    created: str
    strategy: str
    params: dict[str, Any]
    config: dict[str, Any]
    symbol: str
    interval: str
    category: str
    source: str
    synthetic: bool
    data: dict[str, Any]
    fingerprint: str
    engine_version: str
    bars: int
    start: str | None
    end: str | None
    trades: int
    metrics: dict[str, Any]
    tags: list[str]
    note: str
    origin: str
    job_id: str | None
    summary: dict[str, Any] = Field(exclude=True)
