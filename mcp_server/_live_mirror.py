"""The latest live events seen on the fan-out, for a server whose stream runs in another
process (`bybit-tester live` publishing to Redis): what `watch_market` answers from there."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import market as M

__all__ = ["FanoutMirror"]

log = logging.getLogger("mcp_server.live")


class FanoutMirror:
    """Reads `bybit:ticks` in the background and keeps each channel's newest event."""

    def __init__(self, fanout: M.Fanout) -> None:
        self._fanout = fanout
        self._task: asyncio.Task[None] | None = None
        self._sub: M.Subscription | None = None
        self.latest: dict[str, tuple[dict[str, Any], float]] = {}  # channel -> (event, monotonic)

    async def start(self) -> None:
        if self._task is None:
            self._sub = await self._fanout.subscribe([M.TICKS_CHANNEL])
            self._task = asyncio.create_task(self._read(self._sub))

    async def _read(self, sub: M.Subscription) -> None:
        async for msg in sub:
            try:
                event = json.loads(msg.text)
                channel = _channel(event)
            except (ValueError, KeyError, TypeError):
                continue
            if channel is not None:
                self.latest[channel] = (event, time.monotonic())

    def get(self, channel: str) -> tuple[dict[str, Any], float] | None:
        """(event, age in seconds) of a channel's newest event."""
        hit = self.latest.get(channel)
        return None if hit is None else (hit[0], round(time.monotonic() - hit[1], 3))

    async def aclose(self) -> None:
        if self._sub is not None:
            await self._sub.aclose()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


def _channel(event: dict[str, Any]) -> str | None:
    if event.get("kind") == "candle":
        return M.candle_channel(event["category"], event["symbol"], event["interval"])
    if event.get("kind") == "ticker":
        return M.ticker_channel(event["category"], event["symbol"])
    return None
