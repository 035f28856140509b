"""The catalog's schema revisions (Alembic): where a database is, and moving it.

A database at a revision this package does not know was migrated by a newer version:
nothing here touches it. Upgrades take a lock first (PostgreSQL's advisory lock, a file
lock next to a SQLite file), so servers and workers starting together migrate once.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from mcp_server.errors import CatalogVersionError

__all__ = ["SchemaState", "downgrade", "schema_state", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")
_PG_LOCK = 0x6273745F636174  # "bst_cat": the advisory lock of catalog migrations


@dataclass(frozen=True)
class SchemaState:
    """Where a database is: `current` (None: empty), this package's `head`, and whether
    `current` is a revision this package knows."""

    current: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def newer(self) -> bool:
        return self.current is not None and not self.known


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def schema_state(engine: Engine) -> SchemaState:
    scripts = _scripts()
    head = scripts.get_current_head()
    assert head is not None
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    known = current is None or _known(scripts, current)
    return SchemaState(current, head, known)


def _known(scripts: ScriptDirectory, rev: str) -> bool:
    try:
        return scripts.get_revision(rev) is not None
    except Exception:  # alembic raises several kinds for a revision it cannot resolve
        return False


def refuse_newer(state: SchemaState, where: str) -> None:
    if state.newer:
        raise CatalogVersionError(
            f"the catalog at {where} is at schema revision {state.current}, newer than this "
            f"version knows (its newest is {state.head}): it was migrated by a newer "
            "bybit-strategy-tester. Upgrade this one (uv sync / pip install -U "
            "bybit-strategy-tester), or point DATABASE_URL at another database"
        )


def upgrade(engine: Engine, where: str, revision: str = "head") -> SchemaState:
    """Migrate up to `revision` (under the migration lock); the state after."""
    with _migration_lock(engine):
        state = schema_state(engine)
        refuse_newer(state, where)
        with engine.begin() as conn:
            command.upgrade(_config(conn), revision)
    return schema_state(engine)


def downgrade(engine: Engine, where: str, revision: str) -> SchemaState:
    """Migrate down to `revision` (`base` empties the database of the catalog's tables)."""
    with _migration_lock(engine):
        refuse_newer(schema_state(engine), where)
        with engine.begin() as conn:
            command.downgrade(_config(conn), revision)
    return schema_state(engine)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK})
                conn.commit()
        return
    database = engine.url.database or ""
    with open(Path(database).with_suffix(".migrate.lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
