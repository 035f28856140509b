"""Fan-out of live events: `publish(channel, text)` on one side, `subscribe(channels)` on the
other. `RedisFanout` spans processes (Redis pub/sub), `MemoryFanout` serves the same API
inside one process; `make_fanout(url)` picks one from a URL.

On Redis each message is a versioned JSON frame `{"v":1,"at":<unix ms>,"data":"<event>"}`:
`at` is when it was published, so a reader can measure the delay, and `data` is the event
text untouched (the live events are themselves versioned envelopes).

Pub/sub is fire-and-forget: a publisher never waits for a Redis that is away. After a
failure it refuses at once (counted) for `retry_s`, then tries again, so the stream worker
keeps storing candles while Redis restarts and publishing resumes when it is back.
Subscriptions reconnect and re-subscribe on their own; messages published meanwhile are lost
(readers re-sync from the store).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

__all__ = [
    "FANOUT_VERSION",
    "Fanout",
    "FanoutMessage",
    "FanoutUnavailableError",
    "MemoryFanout",
    "RedisFanout",
    "Subscription",
    "make_fanout",
]

log = logging.getLogger("market.fanout")

FANOUT_VERSION: Final = 1
_SUB_QUEUE: Final = 10_000  # per subscription; a reader this far behind loses the oldest


class FanoutUnavailableError(ConnectionError):
    """The fan-out backend cannot be reached right now (publish again later)."""


@dataclass(frozen=True)
class FanoutMessage:
    channel: str
    text: str
    published_at: float  # unix seconds


def _now() -> float:
    return time.time()


@runtime_checkable
class Subscription(Protocol):
    """Messages of the subscribed channels, in publish order, until `aclose`."""

    channels: tuple[str, ...]
    dropped: int  # messages lost because the reader fell `_SUB_QUEUE` behind

    def __aiter__(self) -> AsyncIterator[FanoutMessage]: ...

    async def get(self) -> FanoutMessage: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Fanout(Protocol):
    """See the module docstring."""

    published: int
    publish_errors: int

    async def publish(self, channel: str, text: str) -> None:
        """Send `text` to the channel's current subscribers; raises FanoutUnavailableError
        when the backend is away (never blocks for long)."""
        ...

    async def subscribe(self, channels: Sequence[str]) -> Subscription:
        """Subscribe; returns once the subscription is active."""
        ...

    async def health(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class _Queue:
    """A bounded queue that drops the oldest message when full (counted)."""

    def __init__(self, channels: Sequence[str], maxlen: int = _SUB_QUEUE):
        self.channels = tuple(channels)
        self.dropped = 0
        self._items: deque[FanoutMessage] = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self.closed = False

    def put(self, msg: FanoutMessage) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(msg)
        self._ready.set()

    async def get(self) -> FanoutMessage:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __aiter__(self) -> AsyncIterator[FanoutMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[FanoutMessage]:
        while True:
            try:
                yield await self.get()
            except StopAsyncIteration:
                return

    def close(self) -> None:
        self.closed = True
        self._ready.set()


class _MemorySubscription(_Queue):
    def __init__(self, owner: MemoryFanout, channels: Sequence[str]):
        super().__init__(channels)
        self._owner = owner

    async def aclose(self) -> None:
        self.close()
        self._owner._subs.discard(self)


class MemoryFanout:
    """In-process fan-out with the Redis fan-out's API."""

    def __init__(self) -> None:
        self._subs: set[_MemorySubscription] = set()
        self.published = 0
        self.publish_errors = 0

    async def publish(self, channel: str, text: str) -> None:
        msg = FanoutMessage(channel, text, _now())
        for sub in list(self._subs):
            if channel in sub.channels:
                sub.put(msg)
        self.published += 1

    async def subscribe(self, channels: Sequence[str]) -> Subscription:
        sub = _MemorySubscription(self, channels)
        self._subs.add(sub)
        return sub

    async def health(self) -> dict[str, Any]:
        return {"backend": "memory", "ok": True, "subscriptions": len(self._subs)}

    async def aclose(self) -> None:
        for sub in list(self._subs):
            await sub.aclose()


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a shielded command's outcome (the caller may be gone) so asyncio does not warn."""
    if not task.cancelled():
        task.exception()


def encode_frame(text: str, at: float | None = None) -> str:
    """The Redis wire frame of one event (see the module docstring)."""
    at_ms = round((_now() if at is None else at) * 1000, 3)
    return json.dumps({"v": FANOUT_VERSION, "at": at_ms, "data": text}, separators=(",", ":"))


def decode_frame(raw: str | bytes) -> tuple[str, float] | None:
    """(event text, published at in unix seconds), or None for a frame we do not speak."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("v") != FANOUT_VERSION:
        return None
    data, at = frame.get("data"), frame.get("at")
    if not isinstance(data, str) or not isinstance(at, int | float):
        return None
    return data, at / 1000


class _RedisSubscription(_Queue):
    """A pub/sub connection read by its own task, reconnecting and re-subscribing forever."""

    def __init__(self, owner: RedisFanout, channels: Sequence[str]):
        super().__init__(channels)
        self._owner = owner
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.malformed = 0

    async def start(self) -> None:
        pubsub = await self._connect()
        self._task = asyncio.create_task(self._read(pubsub))
        self._owner._readers.add(self._task)
        self._task.add_done_callback(self._owner._readers.discard)

    async def _connect(self) -> Any:
        pubsub = self._owner._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*self.channels)
        except Exception:
            await pubsub.aclose()
            raise
        return pubsub

    async def _read(self, pubsub: Any) -> None:
        delay = self._owner.retry_s
        while not self.closed:
            try:
                while not self.closed:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    self._deliver(msg)
                    delay = self._owner.retry_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: redial until it is back
                log.warning("fan-out subscription lost (%r); reconnecting", exc)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                while not self.closed:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    try:
                        pubsub = await self._connect()
                        self.reconnects += 1
                        break
                    except Exception:
                        continue
        with contextlib.suppress(Exception):
            await pubsub.aclose()

    def _deliver(self, msg: dict[str, Any]) -> None:
        channel = msg["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        decoded = decode_frame(msg["data"])
        if decoded is None:
            self.malformed += 1
            return
        self.put(FanoutMessage(channel, decoded[0], decoded[1]))

    async def aclose(self) -> None:
        # The reader sees `closed` within its 1 s poll and closes its connection itself (a
        # cancel inside redis-py can hang); the fan-out's aclose waits for the stragglers.
        self.close()
        self._owner._subs.discard(self)


class RedisFanout:
    """Redis pub/sub fan-out; see the module docstring."""

    def __init__(self, url: str, *, retry_s: float = 0.5, timeout_s: float = 1.0):
        import redis.asyncio as redis

        self.url = url
        self.retry_s = retry_s
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=None, health_check_interval=0
        )
        self._pub = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
        self._subs: set[_RedisSubscription] = set()
        self._readers: set[asyncio.Task[None]] = set()
        self._down_until = 0.0
        self.published = 0
        self.publish_errors = 0

    async def publish(self, channel: str, text: str) -> None:
        if time.monotonic() < self._down_until:
            self.publish_errors += 1
            raise FanoutUnavailableError(f"Redis at {self._safe_url()} is unreachable; retrying")
        inner = asyncio.ensure_future(self._pub.publish(channel, encode_frame(text)))
        inner.add_done_callback(_consume)
        try:
            # shielded: a cancel landing inside redis-py's publish can leave the task stuck
            # there for good (seen with redis 8.1); the command itself ends within timeout_s
            await asyncio.shield(inner)
        except Exception as exc:
            self.publish_errors += 1
            self._down_until = time.monotonic() + self.retry_s
            raise FanoutUnavailableError(
                f"publish to Redis at {self._safe_url()} failed: {exc!r}"
            ) from exc
        self.published += 1

    async def subscribe(self, channels: Sequence[str]) -> Subscription:
        sub = _RedisSubscription(self, channels)
        try:
            await sub.start()
        except Exception as exc:
            raise FanoutUnavailableError(
                f"cannot subscribe on Redis at {self._safe_url()}: {exc!r}; is it running?"
            ) from exc
        self._subs.add(sub)
        return sub

    async def health(self) -> dict[str, Any]:
        try:
            await asyncio.wait_for(self._pub.ping(), 2.0)
            ok, error = True, None
        except Exception as exc:  # health reports, never raises
            ok, error = False, f"{type(exc).__name__}: {exc}"[:200]
        out: dict[str, Any] = {"backend": "redis", "ok": ok, "subscriptions": len(self._subs)}
        if error:
            out["error"] = error
        return out

    def _safe_url(self) -> str:
        # never show a password that may sit in the URL
        _, sep, tail = self.url.rpartition("@")
        return ("redis://***@" + tail) if sep else self.url

    async def aclose(self) -> None:
        for sub in list(self._subs):
            await sub.aclose()
        if self._readers:
            await asyncio.wait(list(self._readers), timeout=5)
        for task in list(self._readers):
            task.cancel()
        for client in (self._pub, self._redis):
            with contextlib.suppress(Exception):
                await client.aclose()


def make_fanout(url: str | None) -> Fanout:
    """`redis://…` / `rediss://…` -> RedisFanout, `memory://` or None -> MemoryFanout."""
    if url is None or url.startswith("memory://"):
        return MemoryFanout()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisFanout(url)
    raise ValueError(f"fan-out URL {url!r}: use memory:// or redis://host:port/db")
