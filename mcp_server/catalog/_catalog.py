"""`Catalog`: the results database, opened once per process (sync: Celery tasks call it;
the server calls it from worker threads).

Every write is idempotent by its item's key (INSERT ... ON CONFLICT DO NOTHING), so the
server recording a job's result that its worker recorded already, a record retried from
the spool, or two workers finishing the same chunked job leave one row.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError

import engine as E
from mcp_server import __version__
from mcp_server.catalog._engine import make_engine
from mcp_server.catalog._migrate import (
    SchemaState,
    downgrade,
    refuse_newer,
    schema_state,
    upgrade,
)
from mcp_server.catalog._query import run_page
from mcp_server.catalog._records import (
    BackfillItem,
    CatalogItem,
    JobItem,
    OptimizationItem,
    RunDetail,
    RunItem,
    RunPage,
    RunQuery,
)
from mcp_server.catalog._schema import (
    ArtifactRow,
    BackfillAuditRow,
    JobRow,
    OptimizationRow,
    RunMetricRow,
    RunRow,
    RunTagRow,
)
from mcp_server.catalog._times import iso, ms_iso, utc
from mcp_server.catalog._url import safe_url
from mcp_server.errors import (
    CatalogUnavailableError,
    CatalogVersionError,
    ResultNotFoundError,
    RunNotFoundError,
)

__all__ = ["Catalog"]

T = TypeVar("T")
_STATE_RANK = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}
TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-/")


class Catalog:
    """The catalog at `url` (see the module docstring). Nothing connects until first use."""

    def __init__(self, url: URL, *, connect_timeout: float = 3.0, auto_upgrade: bool = True) -> None:
        self.url = url
        self.where = safe_url(url)
        self._timeout = connect_timeout
        self._auto_upgrade = auto_upgrade
        self._engine: Engine | None = None
        self._pid = 0
        self._ready: SchemaState | None = None  # the schema checked (by this pid)
        self._ready_pid = 0
        self._lock = threading.Lock()

    # -- connection and schema --------------------------------------------------------
    @property
    def dialect(self) -> str:
        return "postgresql" if self.url.get_backend_name() == "postgresql" else "sqlite"

    def engine(self) -> Engine:
        """The engine of this process (a forked child makes its own: pooled connections
        must never be shared with the parent)."""
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                if self._engine is not None:
                    self._engine.dispose(close=False)
                self._engine = make_engine(self.url, connect_timeout=self._timeout)
                self._pid = os.getpid()
            return self._engine

    def state(self) -> SchemaState:
        return self._guard(lambda: schema_state(self.engine()))

    def open(self) -> SchemaState:
        """Check the schema once (migrating an empty or older one when allowed); raises
        CatalogVersionError for a newer one, CatalogUnavailableError when down."""
        # once per process and engine: reading the migration scripts and the database's
        # revision costs milliseconds, and every write and read comes through here
        if self._ready is not None and self._ready_pid == os.getpid():
            return self._ready
        state = self.state()
        refuse_newer(state, self.where)
        if not state.up_to_date:
            if state.current is not None and not self._auto_upgrade:
                raise CatalogVersionError(
                    f"the catalog at {self.where} is at schema revision {state.current}, older "
                    f"than this version's {state.head}; run `bybit-tester db upgrade` (or set "
                    "BST_DB_AUTO_UPGRADE=true)"
                )
            state = self._guard(lambda: upgrade(self.engine(), self.where))
        self._ready, self._ready_pid = state, os.getpid()
        return state

    def migrate(self, revision: str = "head", *, down: bool = False) -> SchemaState:
        """Move the schema up (or `down`) to `revision` (`bybit-tester db upgrade|downgrade`);
        the state after. A database that does not answer: CatalogUnavailableError."""
        move = downgrade if down else upgrade
        state = self._guard(lambda: move(self.engine(), self.where, revision))
        self._ready = None  # the next use checks the schema again
        return state

    def ping(self) -> None:
        def run() -> None:
            with self.engine().connect() as conn:
                conn.exec_driver_sql("SELECT 1")

        self._guard(run)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
            self._ready = None

    def _guard(self, fn: Callable[[], T]) -> T:
        """`fn`, with a database that does not answer said as CatalogUnavailableError. A
        pooled connection the server dropped (a restart) fails once: `fn` runs again on a
        fresh one (every write is idempotent, so running it twice is harmless)."""
        try:
            try:
                return fn()
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                return fn()
        except DBAPIError as exc:
            if not isinstance(exc, OperationalError) and not exc.connection_invalidated:
                raise  # a statement the database refused: a bug, not an outage
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise CatalogUnavailableError(
                f"the catalog database at {self.where} does not answer: {reason}"
            ) from exc

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        self.open()
        with self.engine().begin() as conn:
            yield conn

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    # -- writes -----------------------------------------------------------------------
    def write(self, item: CatalogItem) -> bool:
        """Record `item`; False when it was already there (nothing changed)."""
        writer: dict[str, Callable[[Any], bool]] = {
            "run": self._write_run, "optimization": self._write_optimization,
            "job": self._write_job, "backfill": self._write_backfill,
        }  # fmt: skip
        return self._guard(lambda: writer[item.item](item))

    def _write_run(self, item: RunItem) -> bool:
        s, req = item.summary, item.request
        metrics = dict(s.get("metrics", {}))
        row = {
            "id": item.id, "key": item.key, "created": utc(item.created),
            "symbol": str(s.get("symbol", "")), "interval": str(s.get("interval", "")),
            "category": str(s.get("category") or req.get("data", {}).get("category", "")),
            "source": str(s.get("source") or req.get("data", {}).get("source", "")),
            "synthetic": bool(s.get("synthetic")), "strategy": str(req["strategy"]),
            "params": dict(req.get("params", {})), "config": dict(req.get("config", {})),
            "data": dict(req.get("data", {})), "fingerprint": str(req.get("fingerprint", "")),
            "engine_version": __version__, "bars": int(s.get("bars") or 0),
            "start_ms": _ms(s.get("start")), "end_ms": _ms(s.get("end")),
            "trade_count": int(metrics.get("n_trades") or 0), "metrics": _finite(metrics),
            "summary": s, "note": "", "origin": item.origin, "job_id": item.job_id,
        }  # fmt: skip
        # Core statements with their values bound at execution: compiled once per process
        # (a statement built around its values is compiled again for every record)
        blobs = [{"owner": item.id, "name": n, "format": "npy", "data": b}
                 for n, b in (("trades", item.trades), ("equity", item.equity)) if b]  # fmt: skip
        with self._tx() as conn:
            if conn.execute(self._new_run(), row).first() is None:  # rowcount is -1 on some drivers
                # Already there. A summary-only record (the server adopting a worker's
                # result) may have come first: the arrays this one brings are added.
                if blobs and self._missing_arrays(conn, item.id):
                    conn.execute(self._insert(_table(ArtifactRow)).on_conflict_do_nothing(), blobs)
                return False
            copied = {k: row[k] for k in ("symbol", "strategy", "interval", "created")}
            values = [{"run_id": item.id, "name": k, "value": float(v), **copied}
                      for k, v in _finite(metrics).items() if isinstance(v, int | float)]  # fmt: skip
            if values:
                conn.execute(insert(_table(RunMetricRow)), values)
            if blobs:
                conn.execute(insert(_table(ArtifactRow)), blobs)
        return True

    @staticmethod
    def _missing_arrays(conn: Connection, run_id: str) -> bool:
        have = conn.execute(select(func.count()).select_from(ArtifactRow)
                            .where(ArtifactRow.owner == run_id)).scalar_one()  # fmt: skip
        return int(have) < 2

    def _new_run(self) -> Any:
        return self._insert(RunRow.__table__).on_conflict_do_nothing().returning(RunRow.id)

    def _write_optimization(self, item: OptimizationItem) -> bool:
        s, req = item.summary, item.request
        best = s.get("best") or {}
        row = {
            "id": item.id, "key": item.key, "kind": item.kind, "created": utc(item.created),
            "symbol": str(req.get("symbol", "")), "interval": str(req.get("interval", "")),
            "strategy": str(req.get("strategy", "")), "data": dict(req.get("data", {})),
            "fingerprint": str(req.get("fingerprint", "")), "engine_version": __version__,
            "space": dict(req.get("space", {})), "objective": str(req.get("objective", "")),
            "options": dict(req.get("options", {})), "evaluated": int(s.get("evaluated") or 0),
            "best_params": dict(best.get("params") or {}), "best_score": _num(best.get("score")),
            "best_metrics": _finite(dict(best.get("metrics") or {})),
            "overfitting": dict(s.get("overfitting") or {}), "summary": s, "note": "",
            "origin": item.origin, "job_id": item.job_id,
        }  # fmt: skip
        with self._tx() as conn:
            stmt = self._insert(OptimizationRow.__table__).on_conflict_do_nothing()
            if conn.execute(stmt.returning(OptimizationRow.id), row).first() is None:
                return False
            if item.table:
                conn.execute(insert(_table(ArtifactRow)), [{"owner": item.id, "name": "table",
                                                    "format": "json.zlib", "data": item.table}])  # fmt: skip
        return True

    def _write_job(self, item: JobItem) -> bool:
        row = {
            "id": item.id, "kind": item.kind, "state": item.state, "created": utc(item.created),
            "started": utc(item.started) if item.started else None,
            "finished": utc(item.finished) if item.finished else None, "worker": item.worker,
            "attempts": item.attempts, "error": item.error, "result_id": item.result_id,
        }  # fmt: skip
        rank = _STATE_RANK[item.state]
        # A state never goes back (a late "running" after "succeeded"), and a terminal
        # state is final; a field a later write does not know keeps its value.
        earlier = [s for s, r in _STATE_RANK.items() if r < rank or (r == rank and r < 2)]
        stmt = self._insert(JobRow).values(row)
        t = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[JobRow.id],
            set_={
                "state": t.state,
                "started": func.coalesce(JobRow.started, t.started),
                "finished": func.coalesce(t.finished, JobRow.finished),
                "worker": func.coalesce(func.nullif(t.worker, ""), JobRow.worker),
                "attempts": func.max(JobRow.attempts, t.attempts)
                if self.dialect == "sqlite" else func.greatest(JobRow.attempts, t.attempts),
                "error": func.coalesce(t.error, JobRow.error),
                "result_id": func.coalesce(t.result_id, JobRow.result_id),
            },
            where=JobRow.state.in_(earlier),
        )  # fmt: skip
        with self._tx() as conn:
            return conn.execute(stmt.returning(JobRow.id)).first() is not None

    def _write_backfill(self, item: BackfillItem) -> bool:
        row = item.model_dump(exclude={"item"})
        row["created"] = utc(item.created)
        with self._tx() as conn:
            stmt = self._insert(BackfillAuditRow).values(row).on_conflict_do_nothing()
            return conn.execute(stmt.returning(BackfillAuditRow.id)).first() is not None

    def tag_run(self, run_id: str, add: list[str], remove: list[str], note: str | None) -> RunDetail:
        """Add and remove tags (and set the note) of a stored run."""
        for tag in add:
            if not tag or len(tag) > 64 or not set(tag) <= TAG_CHARS:
                raise ValueError(
                    f"tag {tag!r}: 1 to 64 letters, digits and _ . : - / (no spaces)"
                )

        def run() -> None:
            with self._tx() as conn:
                if conn.execute(select(RunRow.id).where(RunRow.id == run_id)).first() is None:
                    raise RunNotFoundError(f"no stored run {run_id!r} in the catalog")
                if remove:
                    conn.execute(delete(RunTagRow).where(RunTagRow.run_id == run_id,
                                                         RunTagRow.tag.in_(remove)))  # fmt: skip
                for tag in dict.fromkeys(add):
                    conn.execute(self._insert(RunTagRow).values(run_id=run_id, tag=tag)
                                 .on_conflict_do_nothing())  # fmt: skip
                if note is not None:
                    conn.execute(update(RunRow).where(RunRow.id == run_id).values(note=note[:2000]))

        self._guard(run)
        return self.get_run(run_id)

    # -- reads ------------------------------------------------------------------------
    def list_runs(self, query: RunQuery) -> RunPage:
        def run() -> RunPage:
            self.open()
            with self.engine().connect() as conn:
                return run_page(conn, query, E.METRIC_KEYS)

        return self._guard(run)

    def get_run(self, run_id: str) -> RunDetail:
        def run() -> RunDetail:
            self.open()
            with self.engine().connect() as conn:
                row = conn.execute(select(RunRow).where(RunRow.id == run_id)).first()
                if row is None:
                    raise RunNotFoundError(f"no stored run {run_id!r} in the catalog")
                tags = conn.execute(select(RunTagRow.tag).where(RunTagRow.run_id == run_id)
                                    .order_by(RunTagRow.tag)).scalars().all()  # fmt: skip
            return _detail(row._mapping, list(tags))

        return self._guard(run)

    def artifact(self, owner: str, name: str) -> bytes | None:
        def run() -> bytes | None:
            self.open()
            with self.engine().connect() as conn:
                data = conn.execute(select(ArtifactRow.data).where(
                    ArtifactRow.owner == owner, ArtifactRow.name == name)).scalar()  # fmt: skip
            return bytes(data) if data is not None else None

        return self._guard(run)

    def get_optimization(self, oid: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """An optimisation's row (as a dict) and its table (None when not stored)."""

        def run() -> dict[str, Any]:
            self.open()
            with self.engine().connect() as conn:
                row = conn.execute(select(OptimizationRow).where(OptimizationRow.id == oid)).first()
            if row is None:
                raise ResultNotFoundError(f"no stored optimization {oid!r} in the catalog")
            out = dict(row._mapping)
            out["created"] = iso(out["created"])
            return out

        row = self._guard(run)
        raw = self.artifact(oid, "table")
        return row, (json.loads(zlib.decompress(raw)) if raw else None)

    def recent(self, table: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest rows of `runs`, `optimizations`, `jobs` or `backfill_audit`."""
        model: Any = {"runs": RunRow, "optimizations": OptimizationRow, "jobs": JobRow,
                 "backfill_audit": BackfillAuditRow}[table]  # fmt: skip

        def run() -> list[dict[str, Any]]:
            self.open()
            with self.engine().connect() as conn:
                rows = conn.execute(select(model).order_by(model.created.desc()).limit(limit))
                return [_plain(dict(r._mapping)) for r in rows]

        return self._guard(run)


def _table(model: Any) -> Table:
    """The Core table of a model: its statements skip the ORM's bulk path."""
    return cast(Table, model.__table__)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in row.items()
            if k not in ("summary",)}  # fmt: skip


def _detail(row: Any, tags: list[str]) -> RunDetail:
    return RunDetail(
        id=row["id"], created=iso(row["created"]) or "", strategy=row["strategy"],
        params=row["params"], config=row["config"], symbol=row["symbol"],
        interval=row["interval"], category=row["category"], source=row["source"],
        synthetic=row["synthetic"], data=row["data"], fingerprint=row["fingerprint"],
        engine_version=row["engine_version"], bars=row["bars"], start=ms_iso(row["start_ms"]),
        end=ms_iso(row["end_ms"]), trades=row["trade_count"], metrics=row["metrics"], tags=tags,
        note=row["note"], origin=row["origin"], job_id=row["job_id"], summary=row["summary"],
    )  # fmt: skip


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe metrics: NaN and infinities become None (PostgreSQL's JSON refuses them)."""
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        out[k] = _num(v) if isinstance(v, float) else v
    return out


def _ms(text: Any) -> int | None:
    """ms of an ISO time (the summary's start and end), None when absent."""
    if not text:
        return None
    if isinstance(text, int | float):
        return int(text)
    dt = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)

