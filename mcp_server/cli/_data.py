"""The data options every candle-reading command shares, and loading through the one source.

A command with a parameter annotated `DataSpec` (decorated `@data_options`) gets
`--data --source --symbol --interval --bars --seed --start --end --category`, with
the defaults of `mcp_server.candles`, and receives them as one validated `DataSpec`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from mcp_server.candles import (
    DEFAULT_BARS,
    DEFAULT_INTERVAL,
    DEFAULT_SEED,
    DEFAULT_SYMBOL,
    DataSet,
    DataSpec,
    LocalDataSpec,
)
from mcp_server.cli._options import Option, OptionGroup, with_groups
from mcp_server.context import open_context
from ohlcv import INTERVALS, normalize_interval

__all__ = ["DATA", "data_options", "load", "resolve_source"]


def resolve_source(source: str, data: Path | None, start: str | None, end: str | None) -> str:
    """`auto`: the file when given, the store when a time range is, else the sample."""
    if source != "auto":
        return source
    if data is not None:
        return "file"
    return "store" if start or end else "sample"


def _spec(values: dict[str, Any]) -> DataSpec:
    data = values.pop("data")
    values["source"] = resolve_source(values["source"], data, values["start"], values["end"])
    values["symbol"] = str(values["symbol"]).upper()
    values["interval"] = normalize_interval(values["interval"])
    return LocalDataSpec(**values, path=str(data) if data is not None else None)


DATA = OptionGroup(
    DataSpec,
    (
        Option("data", Path | None, None, "CSV or Parquet file with time, open, high, low, close[, volume]"),
        Option("source", str, "auto", "auto (the --data file, else the store when --start/--end "
                                      "are given, else the sample), sample, store or file"),
        Option("symbol", str, DEFAULT_SYMBOL, "Symbol of the sample or stored data"),
        Option("interval", str, DEFAULT_INTERVAL, "Interval: " + " ".join(INTERVALS)),
        Option("bars", int, DEFAULT_BARS, "Bars of sample data, or the newest stored bars without --start"),
        Option("seed", int, DEFAULT_SEED, "Seed of the sample generator"),
        Option("start", str | None, None, "First bar: ISO 8601 (2024-01-31T00:00) or epoch s/ms"),
        Option("end", str | None, None, "Last bar: ISO 8601 or epoch s/ms"),
        Option("category", str, "linear", "Stored data category: linear, inverse or spot"),
    ),
    _spec,
)  # fmt: skip
data_options = with_groups(DATA)


def load(spec: DataSpec) -> DataSet:
    """The candles of `spec` through the one candle source (files anywhere: it is the
    user's own shell)."""

    async def run() -> DataSet:
        async with open_context() as context:
            return await context.candles.load(spec)

    return anyio.run(run)
