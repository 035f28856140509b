"""The results catalog's part of /health and /metrics: where it is, whether it answers now,
and how many records wait in the spool for it (the results were returned all the same)."""

from __future__ import annotations

from typing import Any

import anyio

from mcp_server.context import AppContext
from mcp_server.errors import CatalogError, describe

__all__ = ["catalog_health"]


async def catalog_health(context: AppContext) -> dict[str, Any]:
    """The recorder's health, checked against the database now (a ping: the recorder's
    own view only changes on a write), with the /metrics gauges set from it."""

    def check() -> dict[str, Any]:
        recorder = context.recording.recorder()
        if recorder is None:
            return {"status": "off", "error": context.recording.off or "no catalog", "pending": 0}
        out = recorder.health()
        try:
            recorder.catalog.ping()
        except CatalogError as exc:
            out.update(status="down", error=describe(exc)[:300])
        return out

    try:
        with anyio.fail_after(8):
            section = await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
    except Exception as exc:  # health reports, never raises
        section = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300], "pending": 0}
    context.telemetry.catalog_pending.set(int(section.get("pending") or 0))
    context.telemetry.catalog_up.set(0 if section["status"] in ("down", "off") else 1)
    return section
