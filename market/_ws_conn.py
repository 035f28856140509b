"""One Bybit public WebSocket connection that never gives up: dial, subscribe in acked
batches, app-level ping with a pong deadline, and our own backoff between sessions
(shared/specs/bybit-ws.md §7 pitfalls, §8.1-§8.2).

The `websockets` reconnect iterator is not used on purpose: it redials a server that
accepts then drops about every millisecond, treats 403/429 as fatal and does not
retry errors raised in the loop body.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from market._ws_protocol import chunk_requests, is_pong, request
from market._ws_status import ConnectionState, ConnectionStatus, Counters, LiveConfig

__all__ = ["Connection", "DeadConnectionError"]

log = logging.getLogger("market.live")

OnData = Callable[[str, dict[str, Any]], Awaitable[bool]]
OnRejected = Callable[[str, str, str], None]
OnConnected = Callable[[str, Sequence[str]], None]


class DeadConnectionError(Exception):
    """The peer stopped answering (no pong, no subscribe ack): close and dial again."""


class Connection:
    """A connection of one category carrying `topics`; `run` returns only when cancelled."""

    def __init__(
        self,
        category: str,
        url: str,
        topics: Sequence[str],
        *,
        config: LiveConfig,
        counters: Counters,
        on_data: OnData,
        on_rejected: OnRejected,
        on_connected: OnConnected,
    ):
        self.category, self.url = category, url
        self.topics = list(topics)
        self._config, self._counters = config, counters
        self._on_data, self._on_rejected, self._on_connected = on_data, on_rejected, on_connected
        self.state: ConnectionState = "connecting"
        self.reconnects = 0
        self.last_message: float | None = None
        self.last_error: str | None = None
        self._ids = itertools.count(1)
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._pong = asyncio.Event()
        self._resub: asyncio.Queue[list[str]] = asyncio.Queue()
        self._last_dial = -1e9
        self._healthy_since: float | None = None

    def status(self) -> ConnectionStatus:
        age = None if self.last_message is None else round(time.monotonic() - self.last_message, 3)
        return ConnectionStatus(
            category=self.category, url=self.url, topics=len(self.topics), state=self.state,
            reconnects=self.reconnects, last_message_age_s=age, last_error=self.last_error,
        )  # fmt: skip

    def resubscribe(self, topics: Sequence[str]) -> None:
        """Ask the live session to subscribe these again (a silent topic; duplicates are harmless)."""
        if self.state == "connected":
            self._resub.put_nowait([t for t in topics if t in self.topics])

    # ---- the loop that never gives up ---------------------------------------------
    async def run(self) -> None:
        attempt = 0
        cooldown = 0.0
        while True:
            delay = max(cooldown, self._backoff(attempt))
            delay = max(
                delay, self._last_dial + self._config.min_dial_interval_s - time.monotonic()
            )
            if delay > 0:
                self.state = "backoff"
                await asyncio.sleep(delay)
            self.state = "connecting"
            self._last_dial = time.monotonic()
            self._healthy_since = None
            cooldown = 0.0
            try:
                await self._session()
                self.last_error = "closed by the server"
            except InvalidStatus as exc:
                status = exc.response.status_code
                self.last_error = f"handshake rejected with HTTP {status}"
                cooldown = {403: self._config.cooldown_403_s, 429: self._config.cooldown_429_s}.get(
                    status, 0.0
                )
            except Exception as exc:  # any failure of a session ends in a redial
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            healthy = self._healthy_since is not None and (
                time.monotonic() - self._healthy_since >= self._config.healthy_reset_s
            )
            attempt = 0 if healthy else attempt + 1
            self.reconnects += 1
            self.state = "backoff"
            log.warning(
                "%s %s: %s; reconnecting (attempt %d)",
                self.category,
                self.url,
                self.last_error,
                attempt,
            )

    def _backoff(self, attempt: int) -> float:
        """First retry immediate, then full jitter over 1 s x 2^n capped (spec §8.1)."""
        if attempt <= 1:
            return 0.0
        cap = min(self._config.backoff_max_s, self._config.backoff_initial_s * 2 ** (attempt - 2))
        return random.uniform(0.0, cap)

    async def _session(self) -> None:
        cfg = self._config
        async with connect(
            self.url,
            open_timeout=cfg.open_timeout_s,
            close_timeout=cfg.close_timeout_s,
            ping_interval=cfg.protocol_ping_interval_s,
            ping_timeout=cfg.protocol_ping_timeout_s,
            max_size=2**22,
        ) as ws:
            self.state = "connected"
            self._on_connected(self.category, self.topics)
            reader = asyncio.create_task(self._read(ws))
            control = asyncio.create_task(self._control(ws))
            try:
                done, _ = await asyncio.wait({reader, control}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, control):
                    task.cancel()
                await asyncio.gather(reader, control, return_exceptions=True)
                for fut in self._acks.values():
                    fut.cancel()
                self._acks.clear()
            for task in done:
                exc = task.exception()
                if exc is not None:
                    raise exc

    # ---- reading ----------------------------------------------------------------------
    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self.last_message = time.monotonic()
            self._counters.message()
            msg = _decode(raw)
            if msg is None:
                self._malformed(raw)
            elif is_pong(msg):
                self._pong.set()
            elif msg.get("op") in ("subscribe", "unsubscribe") or (
                "success" in msg and "topic" not in msg
            ):
                self._ack(msg)
            elif not isinstance(msg.get("topic"), str) or not await self._on_data(
                self.category, msg
            ):
                self._malformed(raw)

    def _malformed(self, raw: object) -> None:
        self._counters.malformed += 1
        n = self._counters.malformed
        if n <= 10 or n % 100 == 0:
            log.warning("%s: malformed message #%d ignored: %.200r", self.category, n, raw)

    def _ack(self, msg: dict[str, Any]) -> None:
        req_id = str(msg.get("req_id") or "")
        fut = self._acks.pop(req_id, None)
        if fut is None and self._acks:  # an ack without our req_id: the oldest request in flight
            fut = self._acks.pop(next(iter(self._acks)))
        if fut is not None and not fut.done():
            fut.set_result(msg)

    # ---- writing: subscribe, then ping -----------------------------------------------
    async def _control(self, ws: ClientConnection) -> None:
        await self._subscribe(ws, self._live_topics())
        self._healthy_since = time.monotonic()
        for n in itertools.count():
            self._pong.clear()
            await ws.send(request("ping", f"p{n}"))
            try:
                async with asyncio.timeout(self._config.pong_timeout_s):
                    await self._pong.wait()
            except TimeoutError:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        ws.close(4000, "pong timeout"), self._config.close_timeout_s
                    )
                raise DeadConnectionError(
                    f"no pong within {self._config.pong_timeout_s} s"
                ) from None
            deadline = time.monotonic() + self._config.ping_interval_s
            while (left := deadline - time.monotonic()) > 0:
                try:
                    async with asyncio.timeout(left):
                        topics = await self._resub.get()
                except TimeoutError:
                    break
                await self._subscribe(ws, [t for t in topics if t in self._live_topics()])

    def _live_topics(self) -> list[str]:
        return [t for t in self.topics if (self.category, t) not in self._counters.rejected]

    async def _subscribe(self, ws: ClientConnection, topics: Sequence[str]) -> None:
        for chunk in chunk_requests(topics, self._config.max_args_per_request):
            await self._subscribe_chunk(ws, chunk)

    async def _subscribe_chunk(self, ws: ClientConnection, args: list[str]) -> None:
        """One request; on a rejection, the named (or bisected) bad topics are dropped and
        the others sent again, since one bad topic fails the whole request."""
        req_id = f"s{next(self._ids)}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[req_id] = fut
        await ws.send(request("subscribe", req_id, args))
        try:
            async with asyncio.timeout(self._config.ack_timeout_s):
                ack = await fut
        except TimeoutError:
            raise DeadConnectionError(
                f"no subscribe ack within {self._config.ack_timeout_s} s"
            ) from None
        reason = str(ack.get("ret_msg") or "")
        if ack.get("success") is True or "already subscribed" in reason:
            return
        named = [a for a in args if a in reason]
        if len(args) == 1 or named:
            bad = named or args
            for topic in bad:
                self._on_rejected(self.category, topic, reason or "rejected by the exchange")
            rest = [a for a in args if a not in bad]
            if rest:
                await self._subscribe_chunk(ws, rest)
            return
        half = len(args) // 2  # "args size >10" or an unnamed culprit: split and retry
        await self._subscribe_chunk(ws, args[:half])
        await self._subscribe_chunk(ws, args[half:])


def _decode(raw: str | bytes) -> dict[str, Any] | None:
    if isinstance(raw, bytes):
        return None
    try:
        msg = json.loads(raw)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None
