"""Times as the catalog stores them (aware UTC) and shows them (ISO, `Z`)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso", "ms_iso", "utc"]


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def iso(dt: datetime | None) -> str | None:
    """UTC ISO text of a stored time (SQLite gives them back without their zone)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ms_iso(ms: int | None) -> str | None:
    return None if ms is None else iso(datetime.fromtimestamp(ms / 1000, UTC))
