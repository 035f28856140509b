"""MCP resource subscriptions to `klines://{category}/{symbol}/{interval}`: each time the live
stream of this process closes a candle of that stream, subscribers are told the resource was
updated (they then re-read it).

- 2026-07-28 clients: `subscriptions/listen` with `resource_subscriptions=["klines://linear/
  BTCUSDT/1"]` (the SDK matches URIs exactly, so listen for the URI without a query);
- earlier clients: `resources/subscribe` (any klines:// URI, query included), answered with
  `notifications/resources/updated` on their session.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol
from urllib.parse import urlsplit

from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

import market as M
from mcp_server.context import AppContext

__all__ = ["KlineWatchers", "enable_kline_subscriptions", "kline_uri"]

log = logging.getLogger("mcp_server.live")


class _Session(Protocol):
    async def send_resource_updated(self, uri: str) -> None: ...


def kline_channel(uri: str) -> str | None:
    """`klines://linear/BTCUSDT/1?limit=5` -> `bybit:candle:linear:BTCUSDT:1` (None: not klines)."""
    parts = urlsplit(uri)
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme != "klines" or len(path) != 2:
        return None
    return M.candle_channel(parts.netloc, path[0].upper(), path[1])


def kline_uri(channel: str) -> str:
    """`bybit:candle:linear:BTCUSDT:1` -> `klines://linear/BTCUSDT/1`."""
    category, symbol, interval = channel.split(":")[2:5]
    return f"klines://{category}/{symbol}/{interval}"


class KlineWatchers:
    """Sessions watching klines:// URIs, notified on each closed candle of their stream."""

    def __init__(self, bus: SubscriptionBus | None = None) -> None:
        self._by_channel: dict[str, dict[tuple[int, str], tuple[_Session, str]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._bus = bus

    def watch(self, uri: str, session: _Session) -> bool:
        channel = kline_channel(uri)
        if channel is None:
            return False
        self._by_channel.setdefault(channel, {})[(id(session), uri)] = (session, uri)
        return True

    def unwatch(self, uri: str, session: _Session) -> None:
        channel = kline_channel(uri)
        if channel is not None:
            self._by_channel.get(channel, {}).pop((id(session), uri), None)

    def __call__(self, channel: str, event: dict[str, Any]) -> None:
        """The live service's closed-candle listener."""
        if self._bus is not None:
            self._spawn(self._bus.publish(ResourceUpdated(uri=kline_uri(channel))))
        for key, (session, uri) in list(self._by_channel.get(channel, {}).items()):
            self._spawn(self._notify(channel, key, session, uri))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(
        self, channel: str, key: tuple[int, str], session: _Session, uri: str
    ) -> None:
        try:
            await session.send_resource_updated(uri)
        except Exception as exc:  # the session is gone: forget it
            log.info("dropping a klines:// subscription (%r)", exc)
            self._by_channel.get(channel, {}).pop(key, None)


def enable_kline_subscriptions(
    server: MCPServer[AppContext], context: AppContext, bus: SubscriptionBus
) -> None:
    """Publish closed candles on `bus` (the server's subscriptions/listen bus), and serve the
    legacy resources/subscribe and resources/unsubscribe."""
    watchers = KlineWatchers(bus)
    context.live.on_closed_candle(watchers)
    # MCPServer has no public hook for these two methods; its low-level server has.
    low = server._lowlevel_server

    async def subscribe(
        ctx: ServerRequestContext[AppContext], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        if not watchers.watch(str(params.uri), ctx.session):
            raise ValueError(f"only klines:// resources can be subscribed to, not {params.uri}")
        return types.EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[AppContext], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        watchers.unwatch(str(params.uri), ctx.session)
        return types.EmptyResult()

    low.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)
