"""Alembic environment of the catalog. It runs only on a connection the catalog hands it
(`config.attributes["connection"]`): the URL, its password and the engine options live in
one place (`mcp_server.catalog`), and `bybit-tester db ...` is the way to call it."""

from __future__ import annotations

from alembic import context

from mcp_server.catalog._schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the catalog's migrations with `bybit-tester db upgrade|downgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
)
with context.begin_transaction():
    context.run_migrations()
