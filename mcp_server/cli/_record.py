"""The CLI's backtests in the results catalog, as the server records its own: same id, same
record. The catalog is extra to the command: one that cannot take the result says so in one
line on stderr (its reason, and where the result waits for it) and the command goes on."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import engine as E
    from mcp_server.candles import DataSet

__all__ = ["record_backtest"]


def record_backtest(data: DataSet, result: E.BacktestResult, config: E.BacktestConfig) -> str | None:
    """Record `result` (run on `data` with `config`); its run id, or None when the catalog
    did not take it now (spooled for later, or no usable catalog)."""
    from mcp_server._recording import Recording
    from mcp_server.catalog import CatalogRecorder, open_recorder
    from mcp_server.results import backtest_item
    from mcp_server.settings import Settings

    opened: list[CatalogRecorder] = []

    def provide() -> CatalogRecorder:
        opened.append(open_recorder(Settings()))
        return opened[-1]

    recording = Recording(provide, role="cli", warn=_stderr_line)
    item = backtest_item(data, result, config, "cli")
    # the recorder logs each refusal for servers' logs; here the one line below says it
    quiet = logging.getLogger("mcp_server.catalog")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        outcome = recording.record_now(lambda: item)
    finally:
        for recorder in opened:
            recorder.close()
        quiet.setLevel(level)
    return item.id if outcome in ("written", "duplicate") else None


def _stderr_line(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
