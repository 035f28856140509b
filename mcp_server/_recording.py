"""How the server's result holders reach the results catalog: record an item, read one back.

The holders (`BacktestResults`, `OptimizationTables`) are built without I/O, so they get
the recorder by a provider (the context's lazy property) and call it on first use. The
catalog never fails a user's call: a malformed DATABASE_URL means "not recorded" (said
once), a database that is down means "spooled" (the recorder retries), and every call
runs in a worker thread so the event loop never waits on the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import numpy as np

import engine as E
from mcp_server.errors import PROBLEMS, CatalogConfigError, CatalogUnavailableError, describe

if TYPE_CHECKING:
    from mcp_server.catalog import Catalog, CatalogItem, CatalogRecorder, Outcome

__all__ = ["Recording", "outline_result"]

log = logging.getLogger("mcp_server.results")
T = TypeVar("T")


class Recording:
    """Records items as `role` (server, cli) through the recorder `provider` gives; `warn`
    (the CLI's stderr) hears once that the catalog is unavailable."""

    def __init__(
        self,
        provider: Callable[[], CatalogRecorder],
        *,
        role: str = "server",
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._provider = provider
        self.role = role
        self._warn = warn
        self._warned = False
        self.off: str | None = None  # why there is no catalog (a malformed URL)
        self._lock = threading.Lock()

    def recorder(self) -> CatalogRecorder | None:
        """The recorder, or None when the settings name no usable catalog."""
        if self.off is not None:
            return None
        try:
            return self._provider()
        except CatalogConfigError as exc:
            self.off = describe(exc)
            self._say(f"results catalog unavailable: {self.off}; not recorded")
            return None

    async def record(self, make: Callable[[], CatalogItem]) -> None:
        """Record `make()` without making the caller wait: the recorder's writer thread
        builds the item (arrays to blobs) and writes it; reads wait for it (`read`). With a
        `warn` (the CLI), in a thread now instead, so the command can say what happened.
        Never raises: the result is the user's, the record is extra."""
        if self._warn is not None:
            await anyio.to_thread.run_sync(self.record_now, make)
            return
        recorder = self.recorder()
        if recorder is not None:
            recorder.submit(make)

    def record_now(self, make: Callable[[], CatalogItem]) -> Outcome | None:
        """`record` on this thread (the CLI's commands, the thread `record` uses)."""
        try:
            recorder = self.recorder()
            if recorder is None:
                return None
            outcome = recorder.record(make())
        except Exception:  # a bug in building the item must not fail the backtest
            log.exception("recording a result in the catalog failed")
            return None
        if outcome == "spooled":
            self._say(
                f"results catalog unavailable: {_reason(recorder.last_error)}; results are kept "
                f"in {recorder.spool} and recorded when it is back"
            )
        return outcome

    async def read(self, fn: Callable[[Catalog], T]) -> T | None:
        """`fn(catalog)` in a thread; None when there is no catalog."""
        recorder = self.recorder()
        if recorder is None:
            return None
        catalog = recorder.catalog

        def run() -> T:
            recorder.flush(timeout=5.0)  # what this process handed over is readable
            return fn(catalog)

        return await anyio.to_thread.run_sync(run)

    def _say(self, text: str) -> None:
        with self._lock:
            if self._warned or self._warn is None:
                return
            self._warned = True
        self._warn(text)


def _reason(error: str | None) -> str:
    """The recorder's last error without the table's hint (the line says what happens)."""
    text = error or "the database refused the record"
    return text.removesuffix("; " + PROBLEMS[CatalogUnavailableError].hint)


def outline_result(summary: dict[str, Any], trades: bytes, equity: bytes) -> E.BacktestResult:
    """A backtest rebuilt from what the catalog stored: its trades exactly, its equity as
    the stored outline (min and max per bucket), for a run whose data no longer loads."""
    from mcp_server.catalog import from_npy

    trade_rows = from_npy(trades) if trades else np.zeros((0, 11))
    curve = from_npy(equity) if equity else np.zeros((2, 0))
    return E.BacktestResult(
        strategy=str(summary.get("strategy", "")),
        params=dict(summary.get("params", {})),
        config=dict(summary.get("config", {})),
        metrics=dict(summary.get("metrics", {})),
        equity=np.asarray(curve[1], dtype=np.float64),
        trades=np.asarray(trade_rows, dtype=np.float64),
        time=np.asarray(curve[0], dtype=np.int64),
        periods_per_year=float(summary.get("periods_per_year") or 0.0),
        symbol=str(summary.get("symbol", "")),
        interval=str(summary.get("interval", "")),
        synthetic=bool(summary.get("synthetic")),
        ended_open=bool(summary.get("ended_open")),
        extra={"equity_outline": int(curve.shape[1])},
    )

