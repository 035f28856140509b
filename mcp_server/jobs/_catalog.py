"""The jobs' side of the results catalog: one recorder per database per process (a pool
child opens its own on first use, after the fork), and the items a job records: its
state rows, and the optimisation a merged search or walk-forward made, written by the
process that computed it under the id and key the server gives the same job, so the
server's own record of it is a duplicate."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from mcp_server._opt_tables import OptimizationTables, search_table, walk_table
from mcp_server._recording import Recording
from mcp_server.tools._args import SearchSpec, config_or_default

if TYPE_CHECKING:
    from mcp_server.catalog import CatalogRecorder, JobItem, OptimizationItem
    from mcp_server.jobs._store import JobRecord
    from mcp_server.settings import Settings

__all__ = [
    "job_item",
    "optimization_of",
    "recording_for",
    "worker_name",
]

_LOCK = threading.Lock()
# (pid, DATABASE_URL, data dir) -> its recording: keyed by pid, so a forked child never
# writes through its parent's connections
_RECORDINGS: dict[tuple[int, str, str], Recording] = {}


def recording_for(settings: Settings) -> Recording:
    """The recording of the catalog `settings` name, one per database per process; opens
    nothing until the first record."""
    c = settings.catalog
    url = c.database_url.get_secret_value() if c.database_url else ""
    key = (os.getpid(), url, str(settings.server.data_dir))
    with _LOCK:
        found = _RECORDINGS.get(key)
        if found is None:
            found = Recording(_Lazy(settings), role="worker", warn=_warn)
            _RECORDINGS[key] = found
        return found


class _Lazy:
    """The recorder of `settings`, opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._recorder: CatalogRecorder | None = None
        self._lock = threading.Lock()

    def __call__(self) -> CatalogRecorder:
        with self._lock:
            if self._recorder is None:
                from mcp_server.catalog import open_recorder

                self._recorder = open_recorder(self._settings)
            return self._recorder


def _warn(text: str) -> None:
    import logging

    logging.getLogger("mcp_server.jobs").warning("%s", text)


def worker_name(hostname: str | None = None) -> str:
    """`host:pid` of this process (`hostname`: Celery's node name, when it has one)."""
    return f"{hostname or socket.gethostname()}:{os.getpid()}"


def job_item(record: JobRecord, **fields: Any) -> JobItem:
    """The catalog row of `record` as of now (`fields` override: worker, attempts, ...)."""
    from mcp_server.catalog import JobItem

    base: dict[str, Any] = {"id": record.id, "kind": record.kind, "state": record.state,
                            "created": record.created, "started": record.started,
                            "finished": record.finished, "error": record.error}  # fmt: skip
    return JobItem(**(base | fields))


def optimization_of(
    record: JobRecord, payload: dict[str, Any], synthetic: bool, role: str
) -> OptimizationItem:
    """The catalog item of a finished search or walk-forward job (`payload`: the job's
    stored result), under the job's id and key as the server records it."""
    from mcp_server.catalog import optimization_item
    from mcp_server.tools.optimize import _catalog_parts

    job = record.request
    data = dict(job.get("data") or {})
    s = dict(payload["summary"])
    if record.started is not None:  # the job's run time, as the server reports it
        s["elapsed_s"] = round(time.time() - record.started, 4)
    if record.kind == "walk_forward":
        table = walk_table(s, data, synthetic)
    else:
        config = config_or_default(SearchSpec.model_validate(job["search"]).config)
        table = search_table(s, payload["table"], data, config.model_dump(mode="json"), synthetic)
    request, summary = _catalog_parts(s, data, job)
    return optimization_item(OptimizationTables.id_for(record.id), record.id, record.kind, request,
                             summary, table, role=role, job_id=record.id)  # fmt: skip
