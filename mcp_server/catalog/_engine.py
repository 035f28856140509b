"""SQLAlchemy engines for the catalog: SQLite tuned for several writing processes, and
PostgreSQL (psycopg 3) that gives up quickly when the server does not answer."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

from mcp_server.errors import CatalogUnavailableError

__all__ = ["json_text", "make_engine"]

# Two workers and the server may write at once: a writer waits for the lock this long
# before SQLite says "database is locked".
_SQLITE_BUSY_MS = 30_000


def json_text(value: Any) -> str:
    """JSON of a column value with NaN and infinities as null: PostgreSQL's JSON refuses
    them (a summary's metrics often hold some), and SQLite would keep text no reader takes."""
    return json.dumps(_finite(value), separators=(",", ":"), default=_plain)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (a summary may carry them) as Python values."""
    if hasattr(value, "tolist"):
        return _finite(value.tolist())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def make_engine(url: URL, *, connect_timeout: float) -> Engine:
    """An engine for `url`; a SQLite file's directory is created."""
    if url.get_backend_name() == "sqlite":
        return _sqlite(url)
    args: dict[str, Any] = {"connect_timeout": max(1, round(connect_timeout))}
    # Every round trip counts (a loopback one is ~0.5 ms here): no pre-ping on checkout (a
    # connection the server dropped fails once, invalidates the pool, and the catalog
    # retries the call on a new one), and many rows go in one multi-VALUES INSERT.
    engine = create_engine(
        url, connect_args=args, pool_size=4, max_overflow=4, pool_timeout=connect_timeout,
        json_serializer=json_text,
    )  # fmt: skip
    engine.dialect.use_insertmanyvalues_wo_returning = True  # a dialect flag, not an argument
    return engine


def _sqlite(url: URL) -> Engine:
    path = Path(url.database or "")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogUnavailableError(
            f"cannot create the catalog's folder {path.parent}: {exc.strerror}"
        ) from exc
    # Pooled connections never cross a fork: the catalog makes a new engine in a child.
    engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_MS / 1000},
                           json_serializer=json_text)  # fmt: skip

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cur.execute("PRAGMA synchronous=NORMAL")  # WAL stays crash-safe; commits skip fsync
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        cur.close()

    return engine
