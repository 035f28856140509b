"""What every tool shares: argument types, annotations, and the metrics/error wrapper."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

import engine as E
from mcp_server.data import DataSpec
from mcp_server.errors import to_tool_error
from mcp_server.state import AppState

__all__ = [
    "READ_ONLY",
    "READ_ONLY_OPEN",
    "WRITES_STORE",
    "Bars",
    "CategoryArg",
    "DateArg",
    "Interval",
    "ParamsArg",
    "Seed",
    "SourceArg",
    "StrategyName",
    "Symbol",
    "instrument",
    "progress",
]

log = logging.getLogger("mcp_server.tools")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

# Intervals shared by the engine's sample generator and Bybit (M is monthly: no fixed length).
Interval = Annotated[
    Literal["1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W"],
    Field(description="Bar interval: minutes (1..720), D (day) or W (week)"),
]
Symbol = Annotated[
    str,
    Field(
        pattern=r"^[A-Z0-9]{2,24}$",
        description="Bybit symbol in upper case, e.g. BTCUSDT, ETHUSDT",
    ),
]
Bars = Annotated[
    int,
    Field(ge=100, le=200_000, description="Number of bars to backtest (the most recent ones)"),
]
Seed = Annotated[
    int, Field(ge=0, le=2**31 - 1, description="Seed of the synthetic sample (source=sample)")
]
SourceArg = Annotated[
    Literal["sample", "store"],
    Field(
        description="sample = deterministic synthetic data, no network (results are labelled "
        "synthetic); store = Bybit candles from the local store, fetched when missing "
        "(labelled synthetic if the offline fake Bybit served them)"
    ),
]
CategoryArg = Annotated[
    Literal["linear", "spot", "inverse"], Field(description="Bybit market category")
]
DateArg = Annotated[
    str | None,
    Field(
        max_length=32,
        description="ISO date or datetime in UTC (2024-03-01 or 2024-03-01T12:00), source=store",
    ),
]
StrategyName = Literal[tuple(E.STRATEGIES)]  # type: ignore[valid-type]
ParamsArg = Annotated[
    dict[str, int | float],
    Field(
        max_length=10,
        description='Strategy parameters overriding the defaults, e.g. {"fast": 10, "slow": 40}; '
        "see list_strategies for names and ranges",
    ),
]

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
READ_ONLY_OPEN = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=True)
WRITES_STORE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)


def data_spec(
    source: str,
    symbol: str,
    interval: str,
    bars: int,
    category: str,
    start: str | None,
    end: str | None,
    seed: int,
) -> DataSpec:
    """A DataSpec from tool arguments (start/end only matter for the store)."""
    return DataSpec(
        source=source,  # type: ignore[arg-type]
        symbol=symbol,
        interval=interval,
        bars=bars,
        category=category,  # type: ignore[arg-type]
        start=start,
        end=end,
        seed=seed,
    )


def make_config(config: E.BacktestConfig | None) -> E.BacktestConfig:
    return config if config is not None else E.BacktestConfig.model_validate({})


def instrument(state: AppState, name: str) -> Callable[[F], F]:
    """Count calls, time them, and turn domain errors into ToolErrors with a fix.

    Unknown exceptions are re-raised: the SDK reports them as an internal error
    (without details) and logs the traceback, which is what a bug deserves.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        async def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            outcome = "ok"
            try:
                return await fn(*args, **kwargs)
            except anyio.get_cancelled_exc_class():
                outcome = "cancelled"
                raise
            except Exception as exc:
                mapped = to_tool_error(exc)
                if mapped is None:
                    outcome = "crash"
                    log.exception("tool %s crashed", name)
                    raise
                outcome = "tool_error"
                log.info("tool %s: %s", name, mapped)
                raise mapped from None
            finally:
                state.metrics.tool_calls.labels(name, outcome).inc()
                state.metrics.tool_latency.labels(name).observe(time.perf_counter() - started)

        # Resolve string annotations against the tool's own module, not this one.
        call.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return wrap


async def progress(ctx: Context | None, done: float, total: float, message: str) -> None:
    """Report progress when the client asked for it; never fail the tool because of it."""
    if ctx is None:
        return
    try:
        await ctx.report_progress(done, total, message=message)
    except Exception:  # a closed transport must not turn a result into an error
        log.debug("progress report failed", exc_info=True)


def tool_error(message: str) -> ToolError:
    """A ToolError whose message says what to change."""
    return ToolError(message)
