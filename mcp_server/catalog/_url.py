"""Which database the catalog uses: DATABASE_URL, or SQLite in the data directory."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from mcp_server.errors import CatalogConfigError

__all__ = ["SQLITE_NAME", "catalog_url", "safe_url"]

SQLITE_NAME = "catalog.sqlite3"
# psycopg 3 is the driver we ship; URLs name the database, not the driver
_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg",
            "postgresql+psycopg": "postgresql+psycopg", "sqlite": "sqlite",
            "sqlite+pysqlite": "sqlite"}  # fmt: skip


def catalog_url(database_url: str | None, data_dir: Path) -> URL:
    """The SQLAlchemy URL of the catalog: `database_url` (postgres://, postgresql:// or
    sqlite://), or the SQLite file in `data_dir` when it is empty."""
    if not database_url:
        return URL.create("sqlite", database=str(Path(data_dir) / SQLITE_NAME))
    try:
        url = make_url(database_url.strip())
    except ArgumentError:
        raise CatalogConfigError(
            f"DATABASE_URL {safe_text(database_url)!r} is not a database URL"
        ) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise CatalogConfigError(
            f"DATABASE_URL names {url.drivername!r}; the catalog runs on postgresql:// or sqlite://"
        )
    url = url.set(drivername=driver)
    if driver == "sqlite" and url.database in (None, "", ":memory:"):
        raise CatalogConfigError(
            "DATABASE_URL names an in-memory SQLite database, which every process would see "
            "empty; give a file: sqlite:////path/to/catalog.sqlite3"
        )
    if driver.startswith("postgresql") and not url.host and not url.query.get("host"):
        raise CatalogConfigError(f"DATABASE_URL {safe_url(url)!r} names no host")
    if url.port is not None and not 0 < url.port < 65536:
        raise CatalogConfigError(f"DATABASE_URL {safe_url(url)!r} has no valid port")
    return url


def safe_url(url: URL) -> str:
    """The URL as logs and messages may show it: never its password."""
    return url.render_as_string(hide_password=True)


def safe_text(text: str) -> str:
    """A URL-ish text with whatever sits between `://` and `@` masked."""
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return text
