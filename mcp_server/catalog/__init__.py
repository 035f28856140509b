"""The results catalog: every backtest, optimisation, walk-forward, job and backfill kept in
a database (SQLite in the data directory by default, PostgreSQL via DATABASE_URL), with
Alembic migrations, idempotent writes and a spool for records the database refused."""

from mcp_server.catalog._arrays import equity_outline, from_npy, to_npy
from mcp_server.catalog._catalog import Catalog
from mcp_server.catalog._items import optimization_item, origin, run_item
from mcp_server.catalog._migrate import SchemaState, downgrade, schema_state, upgrade
from mcp_server.catalog._open import SPOOL_DIR, open_catalog, open_recorder
from mcp_server.catalog._query import LIST_METRICS
from mcp_server.catalog._recorder import CatalogRecorder, Outcome
from mcp_server.catalog._records import (
    BackfillItem,
    CatalogItem,
    JobItem,
    OptimizationItem,
    RunDetail,
    RunItem,
    RunLine,
    RunPage,
    RunQuery,
)
from mcp_server.catalog._url import SQLITE_NAME, catalog_url, safe_url

__all__ = [
    "LIST_METRICS",
    "SPOOL_DIR",
    "SQLITE_NAME",
    "BackfillItem",
    "Catalog",
    "CatalogItem",
    "CatalogRecorder",
    "JobItem",
    "OptimizationItem",
    "Outcome",
    "RunDetail",
    "RunItem",
    "RunLine",
    "RunPage",
    "RunQuery",
    "SchemaState",
    "catalog_url",
    "downgrade",
    "equity_outline",
    "from_npy",
    "open_catalog",
    "open_recorder",
    "optimization_item",
    "origin",
    "run_item",
    "safe_url",
    "schema_state",
    "to_npy",
    "upgrade",
]
