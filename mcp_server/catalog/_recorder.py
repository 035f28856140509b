"""`CatalogRecorder`: records results without ever failing the call that made them.

A record the database takes is written at once. One it refuses (down, unreachable, a
schema it cannot use) is kept as a file in the spool folder (one file per item, named by
its key, written atomically) and retried every BST_DB_RETRY_SEC by a background thread:
no work is lost, even if this process exits before the database is back (the next
process with the same data directory sends it). After a failure, records go straight to
the spool until a retry succeeds, so a dead database costs the user's calls nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from mcp_server.catalog._catalog import Catalog
from mcp_server.catalog._records import CatalogItem
from mcp_server.errors import CatalogError, describe

__all__ = ["CatalogRecorder", "Outcome"]

log = logging.getLogger("mcp_server.catalog")
Outcome = Literal["written", "duplicate", "spooled"]
_ITEM: TypeAdapter[CatalogItem] = TypeAdapter(CatalogItem)


class CatalogRecorder:
    """Writes items to `catalog`, spooling what it refuses (see the module docstring).
    `on_outcome(item kind, outcome)` counts for telemetry."""

    def __init__(
        self,
        catalog: Catalog,
        spool: Path,
        *,
        retry_s: float = 5.0,
        on_outcome: Callable[[str, str], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.spool = spool
        self.retry_s = retry_s
        self._on_outcome = on_outcome
        self._lock = threading.Lock()
        self._down_until = 0.0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.written = 0
        self.failed = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._adopted = False
        # items the caller handed over without waiting (`submit`): one writer thread
        self._queue: queue.Queue[Callable[[], CatalogItem]] = queue.Queue()
        self._writer: threading.Thread | None = None

    # -- recording --------------------------------------------------------------------
    def record(self, item: CatalogItem) -> Outcome:
        """Write `item` now, or spool it for later; never raises for the database."""
        self._adopt_spool()
        outcome: Outcome
        if time.monotonic() < self._down_until:
            outcome = self._spool(item)
        else:
            try:
                outcome = "written" if self.catalog.write(item) else "duplicate"
                self._up()
            except CatalogError as exc:
                self._down(exc)
                outcome = self._spool(item)
            except SQLAlchemyError as exc:
                # the database refused this one statement (a value too long for a column,
                # say): retrying cannot help, and the user's call must not fail for it
                outcome = self._set_aside(item, exc)
        if self._on_outcome is not None:
            self._on_outcome(item.item, outcome)
        return outcome

    def submit(self, make: Callable[[], CatalogItem]) -> None:
        """Record `make()` on the writer thread: the caller pays neither the item's
        building (arrays to blobs) nor the database's commit. `flush` waits for it."""
        self._queue.put(make)
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_loop, name="catalog-writer",
                                                daemon=True)  # fmt: skip
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            try:
                make = self._queue.get(timeout=1.0)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # a submit after this starts a new writer
                        self._writer = None
                        return
                continue
            try:
                self.record(make())
            except Exception:  # one bad item must not stop the writer (or lose the rest)
                log.exception("recording a submitted item failed")
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted item is recorded (or spooled); False on timeout."""
        q = self._queue
        deadline = time.monotonic() + timeout
        with q.all_tasks_done:
            while q.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0 or not q.all_tasks_done.wait(left):
                    return not q.unfinished_tasks
        return True

    def _spool_queued(self) -> None:
        """At close, what the writer did not reach goes to the spool (the next process sends it)."""
        while True:
            try:
                make = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                self._spool(make())
            except Exception:
                log.exception("spooling a submitted item at close failed")
            finally:
                self._queue.task_done()

    def _up(self) -> None:
        with self._lock:
            self.written += 1
            self._down_until = 0.0

    def _down(self, exc: Exception) -> None:
        with self._lock:
            self.failed += 1
            self.last_error, self.last_error_at = describe(exc), time.time()
            self._down_until = time.monotonic() + self.retry_s
        log.warning("catalog write failed, kept for retry: %s", self.last_error)

    def _spool(self, item: CatalogItem, suffix: str = ".json") -> Outcome:
        self.spool.mkdir(parents=True, exist_ok=True)
        final = self.spool / f"{item.spool_name()}{suffix}"
        tmp = self.spool / f".{final.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(_ITEM.dump_json(item))
        os.replace(tmp, final)  # a reader never sees half a record
        if suffix == ".json":
            self._ensure_retrying()
        return "spooled"

    def _set_aside(self, item: CatalogItem, exc: Exception) -> Outcome:
        """Keep a record the database refuses for good as `.bad` in the spool, for a human."""
        with self._lock:
            self.failed += 1
            self.last_error, self.last_error_at = describe(exc), time.time()
        log.error("catalog refused %s, kept as .bad in %s: %s", item.spool_name(), self.spool,
                  self.last_error)  # fmt: skip
        return self._spool(item, ".bad")

    def _adopt_spool(self) -> None:
        """Once per recorder: records an earlier process left in the spool get retried."""
        if self._adopted:
            return
        self._adopted = True
        if self.pending():
            self._ensure_retrying()

    # -- the spool --------------------------------------------------------------------
    def pending(self) -> int:
        try:
            return sum(1 for p in self.spool.iterdir() if p.suffix == ".json")
        except FileNotFoundError:
            return 0

    def drain(self) -> int:
        """Send every spooled record (oldest first); how many the database took. Stops
        at the first refusal: the database is still down."""
        try:
            files = sorted((p for p in self.spool.iterdir() if p.suffix == ".json"),
                           key=_mtime)  # fmt: skip
        except FileNotFoundError:
            return 0
        sent = 0
        for path in files:
            try:
                item = _ITEM.validate_json(path.read_bytes())
            except FileNotFoundError:
                continue  # another process sent it
            except (ValidationError, ValueError):
                with contextlib.suppress(FileNotFoundError):  # another process did it
                    path.rename(path.with_suffix(".bad"))  # keep it for a human, stop retrying
                log.error("catalog spool file %s is unreadable; renamed to .bad", path.name)
                continue
            try:
                self.catalog.write(item)
            except CatalogError as exc:
                self._down(exc)
                return sent
            except SQLAlchemyError as exc:
                self._set_aside(item, exc)
                path.unlink(missing_ok=True)
                continue
            path.unlink(missing_ok=True)
            sent += 1
            self._up()
        return sent

    def start(self) -> None:
        """Retry spooled records in the background (started by itself when needed)."""
        self._ensure_retrying()

    def _ensure_retrying(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._retry_loop, name="catalog-retry", daemon=True)
            self._thread.start()

    def _retry_loop(self) -> None:
        while not self._stop.is_set():
            # checked under the lock: a record spooled meanwhile either sees this thread
            # gone (and starts another) or is seen here
            with self._lock:
                if self.pending() == 0:
                    self._thread = None
                    return
            try:
                self.drain()
            except Exception:  # the loop must outlive any one bad record
                log.exception("catalog retry failed")
            self._stop.wait(self.retry_s)

    def close(self) -> None:
        if not self.flush(timeout=10.0):
            self._spool_queued()
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        self.catalog.close()

    # -- health -----------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """What /health shows: where, ok or not, and what waits in the spool."""
        self.flush(timeout=1.0)  # what was handed over counts as written or pending
        self._adopt_spool()
        pending = self.pending()
        down = time.monotonic() < self._down_until
        status = "down" if down else ("degraded" if pending else "ok")
        out: dict[str, Any] = {"status": status, "database": self.catalog.where,
                               "dialect": self.catalog.dialect, "pending": pending,
                               "queued": self._queue.unfinished_tasks,
                               "written": self.written, "failed": self.failed}  # fmt: skip
        if self.last_error is not None:
            out["last_error"] = self.last_error
            out["last_error_at"] = self.last_error_at
        return out


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
