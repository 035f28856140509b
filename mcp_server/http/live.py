"""`GET /api/v1/live?channel=a,b`: the WebSocket relay of the live fan-out.

The Guard has already checked Host and Origin (a refused handshake gets HTTP 403). Here:
1. auth, when BST_HTTP_TOKEN is set: `Authorization: Bearer`, `?token=`, or (browsers cannot
   set headers, and a query string may end up in proxy logs) a first message
   `{"token": "..."}` within 10 s; wrong or missing -> close 4401. The token is never logged;
2. channels: none -> close 4400; one the stream does not publish -> close 4404 (the list is
   at `GET /api/v1/live/channels`);
3. then `{"v":1,"kind":"subscribed","channels":[...]}`, the events as published (versioned
   JSON text), and `{"v":1,"kind":"ping","ts":<unix ms>}` every BST_LIVE_PING_SEC.

Each client has a bounded queue (BST_LIVE_QUEUE_SIZE): when it is full the oldest message
is dropped and counted, so a client that reads slowly or never only loses its own messages;
the fan-out subscription feeding it keeps being read, and other clients and the stream never
wait on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections import deque
from typing import Any

from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

import market as M
from mcp_server.context import AppContext
from mcp_server.live import LiveService

__all__ = ["LIVE_PATH", "add_live_routes"]

LIVE_PATH = "/api/v1/live"
AUTH_TIMEOUT_S = 10.0
MAX_CHANNELS = 64

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_UNKNOWN_CHANNEL = 4404
CLOSE_UNAVAILABLE = 1011


def add_live_routes(app: FastAPI, context: AppContext, token: str | None) -> frozenset[str]:
    """Mount the relay and its channel list on `app`; their paths."""

    @app.get(LIVE_PATH + "/channels")
    async def live_channels() -> dict[str, Any]:
        return {"channels": context.live.channels(), "stream_running": context.live.running}

    @app.websocket(LIVE_PATH)
    async def live(ws: WebSocket) -> None:
        await _Relay(ws, context.live, token).run()

    return frozenset({LIVE_PATH, LIVE_PATH + "/channels"})


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes."""
    raw = text.encode()
    return text if len(raw) <= 123 else raw[:120].decode(errors="ignore") + "..."


class _Relay:
    def __init__(self, ws: WebSocket, live: LiveService, token: str | None) -> None:
        self.ws, self.live, self.token = ws, live, token
        # (text, when it was published into the fan-out; None for the relay's own messages)
        self.queue: deque[tuple[str, float | None]] = deque(maxlen=live.settings.queue_size)
        self.ready = asyncio.Event()
        self.dropped = 0

    async def run(self) -> None:
        ws = self.ws
        await ws.accept()
        try:
            if not await self._authorised():
                await ws.close(CLOSE_UNAUTHORIZED, "unauthorized: pass ?token=<BST_HTTP_TOKEN> "
                                                   'or send {"token": "..."} first')  # fmt: skip
                return
            channels = await self._channels()
            if channels is None:
                return
            try:
                sub = await self.live.fanout.subscribe(channels)
            except M.FanoutUnavailableError:
                await ws.close(CLOSE_UNAVAILABLE, "the live fan-out (Redis) is unavailable")
                return
        except WebSocketDisconnect:
            return
        self.live.relay_joined()
        try:
            self._put(json.dumps({"v": 1, "kind": "subscribed", "channels": channels}))
            await self._serve(sub)
        finally:
            self.live.relay_left()
            await sub.aclose()

    # ---- set-up ----------------------------------------------------------------------------
    async def _authorised(self) -> bool:
        if self.token is None:
            return True
        ws = self.ws
        auth = ws.headers.get("authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        given = given or ws.query_params.get("token", "")
        if not given:
            try:
                first = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
                msg = json.loads(first)
            except (TimeoutError, ValueError, KeyError, RuntimeError):
                return False
            token = msg.get("token") if isinstance(msg, dict) else None
            given = token if isinstance(token, str) else ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def _channels(self) -> list[str] | None:
        """The requested channels, or None after closing with the reason."""
        raw = ",".join(self.ws.query_params.getlist("channel"))
        channels = list(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))
        problem = None
        if not channels or len(channels) > MAX_CHANNELS:
            problem = (CLOSE_BAD_REQUEST, f"pass ?channel=a,b (1 to {MAX_CHANNELS}), e.g. "
                                          f"{M.TICKS_CHANNEL}; list: {LIVE_PATH}/channels")  # fmt: skip
        else:
            known = set(self.live.channels())
            unknown = [c for c in channels if c not in known]
            if unknown:
                problem = (CLOSE_UNKNOWN_CHANNEL,
                           f"unknown channel {unknown[0]}; list: {LIVE_PATH}/channels")  # fmt: skip
        if problem is None:
            return channels
        await self.ws.close(problem[0], _reason(problem[1]))
        return None

    # ---- streaming ----------------------------------------------------------------------------
    def _put(self, text: str, published_at: float | None = None) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
            self.live.relay_drop()
        self.queue.append((text, published_at))
        self.ready.set()

    async def _serve(self, sub: M.Subscription) -> None:
        tasks = [
            asyncio.create_task(self._pump(sub)),
            asyncio.create_task(self._write()),
            asyncio.create_task(self._ping()),
            asyncio.create_task(self._read()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def _pump(self, sub: M.Subscription) -> None:
        async for msg in sub:
            self._put(msg.text, msg.published_at)

    async def _write(self) -> None:
        while True:
            while not self.queue:
                self.ready.clear()
                await self.ready.wait()
            text, published_at = self.queue.popleft()
            await self.ws.send_text(text)
            if published_at is not None:
                self.live.relay_sent(published_at)

    async def _ping(self) -> None:
        period = self.live.settings.ping_s
        while True:
            await asyncio.sleep(period)
            self._put(json.dumps({"v": 1, "kind": "ping", "ts": int(time.time() * 1000)}))

    async def _read(self) -> None:
        """Until the client goes: answers {"op":"ping"}, ignores the rest."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text and '"ping"' in text:
                self._put(json.dumps({"v": 1, "kind": "pong", "ts": int(time.time() * 1000)}))
