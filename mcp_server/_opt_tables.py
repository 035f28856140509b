"""`OptimizationTables`: the optimisation and walk-forward tables a server keeps by id.

A job's table is `opt-` + the job id's first 12 characters, any other's a random id of the
same shape, so an id means the same table on every server and after a restart: memory
holds the last few, the results catalog all of them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mcp_server._recording import Recording
from mcp_server.errors import ResultNotFoundError
from mcp_server.results import CHART_LOCK, RecentResult, _json_value
from ohlcv import TtlLru

__all__ = ["OptimizationTables", "search_table", "walk_table"]


class OptimizationTables:
    """The last few optimisation tables in memory, by id, for the optimization://
    resources and views; every table kept is recorded in the catalog, which answers for
    an id memory has forgotten. A job's table is `opt-` + the job id's first 12
    characters (the same id on every server and after a restart), any other's a random one."""

    def __init__(
        self,
        slots: int = 32,
        recording: Recording | None = None,
        redraw: Callable[[dict[str, Any]], Callable[[], bytes] | None] | None = None,
    ) -> None:
        self._redraw = redraw  # a table's heatmap renderer, for tables read back from the catalog
        self._tables: TtlLru[str, dict[str, Any]] = TtlLru(slots)
        self._heatmaps: TtlLru[str, Callable[[], bytes] | bytes] = TtlLru(slots)
        self._created: dict[str, float] = {}
        self._slots = slots
        self._lock = threading.Lock()
        self.recording = recording

    @staticmethod
    def id_for(key: str = "") -> str:
        return "opt-" + (key[:12] if key else uuid.uuid4().hex[:12])

    def put(
        self, table: dict[str, Any], heatmap: Callable[[], bytes] | None = None, *, key: str = ""
    ) -> str:
        """Keep `table` in memory, with the renderer of its heatmap (run on first read).
        With a `key` (a job id) the id is the job's, and a table already kept for it is
        reused: reading a job's result again must not fill the slots with copies."""
        oid = self.id_for(key)
        with self._lock:
            if key and self._tables.get(oid) is not None:
                return oid
            self._tables.set(oid, table)
            self._created[oid] = time.time()
            for gone in set(self._created) - {k for k, _ in self._tables.items()}:
                del self._created[gone]
            if heatmap is not None:
                self._heatmaps.set(oid, heatmap)
            return oid

    async def keep(
        self, table: dict[str, Any], heatmap: Callable[[], bytes] | None = None, *, key: str = "",
        request: dict[str, Any], summary: dict[str, Any],
    ) -> str:  # fmt: skip
        """`put`, then record the table in the catalog (`request`: symbol, interval,
        strategy, data, fingerprint, space, objective, options; `summary`: evaluated,
        best, overfitting) as the job `key`'s result."""
        oid = self.put(table, heatmap, key=key)
        rec = self.recording
        if rec is not None:
            from mcp_server.catalog import optimization_item

            kind = str(table.get("kind", ""))
            await rec.record(lambda: optimization_item(
                oid, key or oid, kind, request, summary, table, role=rec.role, job_id=key or None))  # fmt: skip
        return oid

    def heatmap(self, oid: str) -> bytes:
        """The heatmap PNG of `oid`, rendered once (`load` it first after a restart)."""
        self.get(oid)
        with self._lock:
            made = self._heatmaps.get(oid)
        if made is None:
            raise ResultNotFoundError(f"optimization {oid!r} has no heatmap: it varied one parameter")
        if callable(made):
            with CHART_LOCK:
                made = made()
            with self._lock:
                self._heatmaps.set(oid, made)
        return made

    def get(self, oid: str) -> dict[str, Any]:
        """The table `oid` if memory still holds it (`load` also asks the catalog)."""
        with self._lock:
            table = self._tables.get(oid)
        if table is None:
            raise ResultNotFoundError(
                f"no optimization with id {oid!r}: ids live for the last {self._slots} runs "
                "in memory, and in the results catalog"
            )
        return table

    async def load(self, oid: str) -> dict[str, Any]:
        """The table `oid`: from memory, else from the catalog (kept in memory again)."""
        with self._lock:
            table = self._tables.get(oid)
        if table is not None or self.recording is None:
            return table if table is not None else self.get(oid)
        try:
            found = await self.recording.read(lambda c: c.get_optimization(oid))
        except ResultNotFoundError:
            found = None
        row, stored = found if found is not None else ({}, None)
        if stored is None:
            return self.get(oid)  # raises, saying where ids live
        draw = self._redraw(stored) if self._redraw is not None else None
        with self._lock:
            self._tables.set(oid, stored)
            if draw is not None:
                self._heatmaps.set(oid, draw)
            created = datetime.fromisoformat(str(row["created"]).replace("Z", "+00:00"))
            self._created[oid] = created.timestamp()
        return stored

    def recent(self) -> list[RecentResult]:
        """The optimisations and walk-forwards still held, newest first."""
        with self._lock:
            held = [
                (oid, table, self._created.get(oid, 0.0)) for oid, table in self._tables.items()
            ]
        return sorted((_table_line(*h) for h in held), key=lambda r: r.created, reverse=True)


def _table_line(oid: str, table: dict[str, Any], created: float) -> RecentResult:
    rows = table.get("rows", [])
    if table.get("kind") == "walk_forward":
        return RecentResult("walk_forward", oid, created, f"walk-forward of {table.get('strategy')}",
                            {"splits": len(rows)})  # fmt: skip
    best = rows[0] if rows else {}
    head = {"evaluated": len(rows), "best_score": _json_value(best.get("score")),
            "best_params": best.get("params")}  # fmt: skip
    return RecentResult(
        "optimization", oid, created, f"{table.get('kind')} search of {table.get('strategy')}", head
    )


def search_table(s: dict[str, Any], rows: list[dict[str, Any]], data: dict[str, Any],
                 config: dict[str, Any], synthetic: bool) -> dict[str, Any]:  # fmt: skip
    """The table of a grid, random or Bayesian search as optimization:// serves it (the
    server's answer and the worker's record build it here, so both keep the same)."""
    view = {"data": data, "config": config,
            "varied": list(s["space"]["params"]), "objective": s["objective"],
            "overfit": s["overfit"], "synthetic": synthetic}  # fmt: skip
    return {"kind": s["method"], "strategy": s["strategy"], "rows": rows, "view": view}


def walk_table(s: dict[str, Any], data: dict[str, Any], synthetic: bool) -> dict[str, Any]:
    """The table of a walk-forward as optimization:// serves it (as `search_table`)."""
    view = {"data": data, "objective": s["objective"], "oos": s["oos"],
            "efficiency": s["efficiency"], "mode": s["mode"], "synthetic": synthetic}  # fmt: skip
    return {"kind": "walk_forward", "strategy": s["strategy"], "rows": s["splits"], "view": view}
