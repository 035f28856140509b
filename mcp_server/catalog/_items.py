"""Catalog items from what the surfaces and workers hold (a backtest's result, a table)."""

from __future__ import annotations

import json
import os
import socket
import zlib
from typing import Any

import engine as E
from mcp_server.catalog._arrays import equity_outline, to_npy
from mcp_server.catalog._records import OptimizationItem, RunItem

__all__ = ["optimization_item", "origin", "run_item"]


def origin(role: str) -> str:
    """Who recorded an item: `server@host:pid`, `worker@host:pid`, `cli@host:pid`."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"[:120]


def run_item(
    key: str,
    request: dict[str, Any],
    summary: dict[str, Any],
    result: E.BacktestResult | None,
    *,
    role: str,
    job_id: str | None = None,
    created: float | None = None,
) -> RunItem:
    """A backtest's item: id = the first 16 characters of its `key` (as every surface
    names it), the trades and the equity outline when the full `result` is at hand."""
    extra: dict[str, Any] = {} if created is None else {"created": created}
    trades = equity = b""
    if result is not None:
        trades = to_npy(result.trades)
        equity = to_npy(equity_outline(result.time, result.equity))
    return RunItem(id=key[:16], key=key, request=request, summary=summary, trades=trades,
                   equity=equity, origin=origin(role), job_id=job_id, **extra)  # fmt: skip


def optimization_item(
    oid: str,
    key: str,
    kind: str,
    request: dict[str, Any],
    summary: dict[str, Any],
    table: dict[str, Any] | None,
    *,
    role: str,
    job_id: str | None = None,
) -> OptimizationItem:
    """An optimisation's or walk-forward's item, its table zlib'd JSON (level 1: a big
    table is megabytes of repetitive text, and a fast pass takes most of it)."""
    blob = zlib.compress(json.dumps(table, separators=(",", ":")).encode(), 1) if table else b""
    return OptimizationItem(id=oid, key=key, kind=kind, request=request, summary=summary,
                            table=blob, origin=origin(role), job_id=job_id)  # fmt: skip
