"""The data options every candle-reading command shares, and loading through the one source.

A command that declares a parameter annotated `DataSpec` gets the options
`--data --source --symbol --interval --bars --seed --start --end --category`
(defined once, here, with the defaults of `mcp_server.candles`) and receives
them as one validated `DataSpec`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mcp_server.candles import (
    DEFAULT_BARS,
    DEFAULT_INTERVAL,
    DEFAULT_SEED,
    DEFAULT_SYMBOL,
    DataSet,
    DataSpec,
)
from mcp_server.cli._errors import cli_errors
from mcp_server.context import open_context
from ohlcv import INTERVALS, normalize_interval

__all__ = ["data_options", "load", "resolve_source"]

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: list[tuple[str, Any, Any, str]] = [
    ("data", Path | None, None, "CSV or Parquet file with time, open, high, low, close[, volume]"),
    ("source", str, "auto", "auto (the --data file, else the store when --start/--end are "
                            "given, else the sample), sample, store or file"),
    ("symbol", str, DEFAULT_SYMBOL, "Symbol of the sample or stored data"),
    ("interval", str, DEFAULT_INTERVAL, "Interval: " + " ".join(INTERVALS)),
    ("bars", int, DEFAULT_BARS, "Bars of sample data, or the newest stored bars without --start"),
    ("seed", int, DEFAULT_SEED, "Seed of the sample generator"),
    ("start", str | None, None, "First bar: ISO 8601 (2024-01-31T00:00) or epoch s/ms"),
    ("end", str | None, None, "Last bar: ISO 8601 or epoch s/ms"),
    ("category", str, "linear", "Stored data category: linear, inverse or spot"),
]  # fmt: skip


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
    return DataSpec(**values, path=str(data) if data is not None else None)


def data_options(fn: F) -> F:
    """Replace `fn`'s `DataSpec` parameter by the shared options (see the module docstring)."""
    sig = inspect.signature(fn, eval_str=True)
    target = next(p.name for p in sig.parameters.values() if p.annotation is DataSpec)
    options = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                          annotation=Annotated[kind, typer.Option(help=help_)])
        for name, kind, default, help_ in _OPTIONS
    ]  # fmt: skip
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values()]
    at = [p.name for p in params].index(target)
    params[at : at + 1] = options

    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name, *_ in _OPTIONS}
        with cli_errors():  # a bad value prints one line, not a traceback
            spec = _spec(values)
        return fn(**kwargs, **{target: spec})

    command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command  # type: ignore[return-value]


def load(spec: DataSpec) -> DataSet:
    """The candles of `spec` through the one candle source (files anywhere: it is the
    user's own shell)."""
    import anyio

    async def run() -> DataSet:
        async with open_context() as context:
            return await context.candles.load(spec)

    return anyio.run(run)
