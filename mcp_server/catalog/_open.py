"""The catalog of a process, from its settings (server, CLI and workers alike)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_server.catalog._catalog import Catalog
from mcp_server.catalog._recorder import CatalogRecorder
from mcp_server.catalog._url import catalog_url

if TYPE_CHECKING:
    from mcp_server.settings import Settings
    from mcp_server.telemetry import Telemetry

__all__ = ["SPOOL_DIR", "open_catalog", "open_recorder"]

SPOOL_DIR = "catalog-spool"


def open_catalog(settings: Settings) -> Catalog:
    """The catalog DATABASE_URL names (SQLite in BST_DATA_DIR when unset); no I/O yet."""
    c = settings.catalog
    url = catalog_url(
        c.database_url.get_secret_value() if c.database_url else None, settings.server.data_dir
    )
    return Catalog(url, connect_timeout=c.db_connect_timeout, auto_upgrade=c.db_auto_upgrade)


def open_recorder(settings: Settings, telemetry: Telemetry | None = None) -> CatalogRecorder:
    """`open_catalog` behind a recorder spooling into BST_DATA_DIR/catalog-spool."""

    def counted(item: str, outcome: str) -> None:
        if telemetry is not None:
            telemetry.catalog_records.labels(item, outcome).inc()
            telemetry.catalog_up.set(0 if outcome == "spooled" else 1)

    return CatalogRecorder(
        open_catalog(settings), settings.server.data_dir / SPOOL_DIR,
        retry_s=settings.catalog.db_retry_sec, on_outcome=counted,
    )  # fmt: skip
