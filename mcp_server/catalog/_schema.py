"""The catalog's tables (SQLAlchemy 2, typed). The first Alembic revision creates exactly
these; a change here needs a new revision (`tests/catalog` checks the two agree).

Big arrays never become rows: a run's trades and equity outline, an optimisation's table
are blobs in `artifacts` (NPY or zlib'd JSON), keyed by their owner's id. Every metric of a
run is also a row of `run_metrics`, indexed by (name, value), so any metric can filter and
sort a listing of many runs without a scan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ArtifactRow",
    "BackfillAuditRow",
    "Base",
    "JobRow",
    "OptimizationRow",
    "RunMetricRow",
    "RunRow",
    "RunTagRow",
]

# Stable constraint names: Alembic can drop what it created, on SQLite too.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class RunRow(Base):
    """One backtest: what ran (data spec + fingerprint, strategy, resolved params, config,
    engine version), what came out (metrics, trade count) and the user's tags and note."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the inputs
    created: Mapped[datetime] = mapped_column(index=True)
    symbol: Mapped[str] = mapped_column(String(40))
    interval: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    synthetic: Mapped[bool]
    strategy: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    config: Mapped[dict[str, Any]]
    data: Mapped[dict[str, Any]]  # the data spec, as the surfaces took it
    fingerprint: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(32))
    bars: Mapped[int]
    start_ms: Mapped[int | None] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger)
    trade_count: Mapped[int]
    metrics: Mapped[dict[str, Any]]
    summary: Mapped[dict[str, Any]]  # the engine's summary: warnings, gaps, ended_open...
    note: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(120), default="")  # which process recorded it
    job_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index(None, "symbol", "created"),
        Index(None, "strategy", "created"),
    )


class RunMetricRow(Base):
    """One metric of one run (NaN and missing values are not stored), with copies of the
    run's listing filters: a page filtered by symbol or strategy and sorted by a metric is
    read in order from one index, never by visiting the (wide) runs of a large catalog."""

    __tablename__ = "run_metrics"

    run_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    symbol: Mapped[str] = mapped_column(String(40))
    strategy: Mapped[str] = mapped_column(String(64))
    interval: Mapped[str] = mapped_column(String(8))
    created: Mapped[datetime]

    __table_args__ = (
        Index(None, "name", "value", "run_id"),
        Index(None, "name", "symbol", "value", "run_id"),
        Index(None, "name", "strategy", "value", "run_id"),
    )


class RunTagRow(Base):
    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class OptimizationRow(Base):
    """One grid, random or Bayesian search, or one walk-forward run (kind says which)."""

    __tablename__ = "optimizations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    created: Mapped[datetime] = mapped_column(index=True)
    symbol: Mapped[str] = mapped_column(String(40))
    interval: Mapped[str] = mapped_column(String(8))
    strategy: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[dict[str, Any]]
    fingerprint: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(32))
    space: Mapped[dict[str, Any]]  # the search space (ranges per parameter)
    objective: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]]  # method, samples, seed, splits, config...
    evaluated: Mapped[int]
    best_params: Mapped[dict[str, Any]]
    best_score: Mapped[float | None] = mapped_column(Float)
    best_metrics: Mapped[dict[str, Any]]
    overfitting: Mapped[dict[str, Any]]  # deflated Sharpe, PBO, Sharpe CI
    summary: Mapped[dict[str, Any]]
    note: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(120), default="")
    job_id: Mapped[str | None] = mapped_column(String(64))


class JobRow(Base):
    """One job's life: its last state wins, and a finished job never goes back."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    created: Mapped[datetime] = mapped_column(index=True)
    started: Mapped[datetime | None]
    finished: Mapped[datetime | None]
    worker: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    result_id: Mapped[str | None] = mapped_column(String(40))  # the run or optimisation it made


class BackfillAuditRow(Base):
    """One backfill of candles into the store, as the seeds' `bybit_kline_audit` kept it."""

    __tablename__ = "backfill_audit"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[datetime] = mapped_column(index=True)
    symbol: Mapped[str] = mapped_column(String(40), index=True)
    interval: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    upserts: Mapped[int]
    pages: Mapped[int]
    elapsed_s: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200))  # the exchange it came from (no secrets)
    job_id: Mapped[str | None] = mapped_column(String(64))


class ArtifactRow(Base):
    """A large array of a run or an optimisation, stored as one blob."""

    __tablename__ = "artifacts"

    owner: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    format: Mapped[str] = mapped_column(String(16))  # npy | json.zlib
    data: Mapped[bytes] = mapped_column(LargeBinary)
