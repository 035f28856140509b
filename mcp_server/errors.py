"""Errors of the server and how domain errors become tool errors.

    ToolError (mcp SDK)          what the calling model sees: is_error=True + a message with the fix
    ServerError                  a problem of this package
     ├── DataUnavailableError    no data for that source / symbol / range
     ├── ResultNotFoundError     unknown or expired backtest id
     └── StartupError            refuse to start (e.g. no token on a public host)

`to_tool_error` maps engine, market and agents errors onto ToolError with a hint
that tells the model how to change its call; anything unexpected stays a crash
(the SDK then hides the details and logs the traceback).
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

import engine as E
from agents import (
    AgentsError,
    AllAgentsFailedError,
    ConfigError,
    FatalRequestError,
    InvalidTaskError,
    ReplayMissError,
)

__all__ = [
    "DataUnavailableError",
    "ResultNotFoundError",
    "ServerError",
    "StartupError",
    "ToolError",
    "to_tool_error",
]


class ServerError(Exception):
    """Base of this package's errors."""


class DataUnavailableError(ServerError):
    """No candles for the requested source, symbol, interval or range."""


class ResultNotFoundError(ServerError):
    """A backtest id that is unknown here (never produced, or evicted)."""


class StartupError(ServerError):
    """The server refuses to start with this configuration."""


def _market_hint(exc: BaseException) -> str | None:
    """Hints for market errors, matched by class name so the server works while
    the market package grows (its hierarchy is imported lazily)."""
    try:
        import market as M
    except ImportError:  # pragma: no cover - market is part of the distribution
        return None
    hints: list[tuple[type[BaseException], str]] = [
        (M.UnknownSymbolError, "check the symbol (e.g. BTCUSDT) and category"),
        (M.UnknownIntervalError, "use one of 1,3,5,15,30,60,120,240,360,720,D,W,M"),
        (M.InvalidRangeError, "pass start < end, both in the past"),
        (M.InvalidRequestError, "fix the arguments named in the message"),
        (M.RateLimitedError, "wait a few seconds and retry, or use source='sample'"),
        (M.ExchangeTimeoutError, "the exchange is slow; retry, or use source='sample'"),
        (
            M.ExchangeUnavailableError,
            "the exchange is unreachable; retry later or use source='sample'",
        ),
        (
            M.IPBannedError,
            "the exchange banned this IP for a while; use source='sample' or stored data",
        ),
        (M.StoreUnavailableError, "the local store is unavailable; use source='sample'"),
        (M.MarketError, "retry later, or use source='sample'"),
    ]
    for cls, hint in hints:
        if isinstance(exc, cls):
            return hint
    return None


def to_tool_error(exc: BaseException) -> ToolError | None:
    """A ToolError for a known domain error, None for anything else (a real bug)."""
    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, E.UnknownStrategyError):
        names = ", ".join(s["name"] for s in E.list_strategies())
        return ToolError(
            f"{exc}. Known strategies: {names}. Call list_strategies for their parameters."
        )
    if isinstance(exc, E.GridTooLargeError):
        return ToolError(f"{exc}. Pass fewer candidates or narrower grids.")
    if isinstance(exc, E.InvalidParameterError):
        return ToolError(f"{exc}. Call list_strategies for valid parameter ranges.")
    if isinstance(exc, E.InvalidDataError):
        return ToolError(f"{exc}. Use more bars (the `bars` argument) or a longer range.")
    if isinstance(exc, E.EngineError):
        return ToolError(str(exc))
    if isinstance(exc, DataUnavailableError):
        return ToolError(str(exc))
    if isinstance(exc, ResultNotFoundError):
        return ToolError(f"{exc}. Run run_backtest again to get a fresh id.")
    if isinstance(exc, InvalidTaskError):
        return ToolError(f"{exc}. Fix the named field and call again.")
    if isinstance(exc, ReplayMissError):
        return ToolError(
            f"{exc}. ROUTER_MODE=replay answers only recorded questions; use offline or live mode."
        )
    if isinstance(exc, FatalRequestError):
        return ToolError(
            f"the AI provider rejected the request ({exc}); the local analyst can answer: pass agent='local'."
        )
    if isinstance(exc, AllAgentsFailedError | ConfigError):
        return ToolError(f"{exc}. Pass agent='local' for the offline analyst.")
    if isinstance(exc, AgentsError):
        return ToolError(f"{type(exc).__name__}: {exc}. Retry, or pass agent='local'.")
    hint = _market_hint(exc)
    if hint is not None:
        return ToolError(f"{exc}. Fix: {hint}.")
    return None
