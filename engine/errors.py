"""Errors raised by the engine, all at its boundary (kernels return status codes).

::

    EngineError
    ├── InvalidDataError        candles that cannot be backtested (which row, and the fix)
    ├── InvalidParameterError   a strategy parameter or config value out of its rules
    │   └── UnknownStrategyError
    └── GridTooLargeError       more combinations than the configured cap
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidDataError(EngineError, ValueError):
    """The candles are malformed: the message names the row and how to fix it."""


class InvalidParameterError(EngineError, ValueError):
    """A strategy parameter or backtest option is unknown or out of range."""


class UnknownStrategyError(InvalidParameterError):
    """No built-in strategy has this name."""


class GridTooLargeError(InvalidParameterError):
    """A parameter grid expands to more combinations than allowed without consent."""
