"""Errors of the floor package: bad labels, times and resampling targets.

::

    OhlcvError (ValueError)
    ├── UnknownIntervalError    not a Bybit interval label; names the valid ones
    ├── InvalidTimeError        text that is neither ISO 8601 nor epoch seconds/milliseconds
    └── ResampleError           a target that is not a whole number of base bars

Each message says what was wrong and how to fix it; the composing layer maps
these types onto MCP, HTTP and CLI errors with its one table.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["InvalidTimeError", "OhlcvError", "ResampleError", "UnknownIntervalError"]


class OhlcvError(ValueError):
    """Base of every error this package raises."""


class UnknownIntervalError(OhlcvError):
    """The interval is not one of Bybit's kline labels (or a usable alias)."""

    def __init__(self, interval: str, valid: Sequence[str]):
        super().__init__(
            f"unknown interval {interval!r}; use one of {', '.join(valid)} "
            "(minutes, D = day, W = week, M = month)"
        )
        self.interval = interval
        self.valid = tuple(valid)


class InvalidTimeError(OhlcvError):
    """A time that cannot be read."""

    def __init__(self, name: str, value: object):
        super().__init__(
            f"{name}={value!r} is not a time; use ISO 8601 in UTC (2024-03-01 or "
            "2024-03-01T12:00) or epoch seconds or milliseconds, between 1970 and 2200"
        )
        self.name = name
        self.value = value


class ResampleError(OhlcvError):
    """The target interval is not a whole number of base bars (e.g. 60 from 7, or W from M)."""
