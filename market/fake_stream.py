"""A faithful fake of Bybit's v5 public WebSocket (shared/specs/bybit-ws.md §9).

A `websockets` server in its own thread and event loop that streams from the REST
fake's series book and clock, so a REST repair returns exactly the candles the stream
sent. Paths `/v5/public/{spot,linear,inverse}`; per-category acks and pongs; topic
validation (one bad topic fails the whole request, spot takes at most 10 args);
kline updates with `confirm:false`, then one `confirm:true` once the clock passes the
candle's end; ticker snapshot then deltas (linear, inverse) or snapshots (spot).
Faults are injected from Python with `inject(WsFault(...))`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from market._fake_rows import format_number
from market._fake_ws_faults import FakeClock, WsFault
from market.fake_bybit import FakeBybit
from ohlcv import INTERVALS, next_open

__all__ = ["FakeClock", "FakeStream", "FakeStreamConfig", "WsFault"]

log = logging.getLogger("market.fake_stream")

CATEGORIES: Final = ("spot", "linear", "inverse")
_BROKEN: Final[tuple[str | bytes, ...]] = (
    '{"topic":"kline.1.BTC',  # cut JSON
    "not json at all",
    b"\x00\x01binary",
    '{"hello":"an object of unknown shape"}',
    "[1, 2, 3]",
)


class FakeStreamConfig(BaseModel):
    """Behaviour of the fake stream, including what Bybit leaves undocumented."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    push_interval_s: float = Field(default=1.0, gt=0)  # real seconds between kline/ticker pushes
    idle_timeout_s: float = Field(default=600.0, gt=0)  # cut after this long without a ping
    spot_max_args: int = Field(default=10, ge=1)
    protocol_ping_interval_s: float | None = None  # whether Bybit sends protocol pings: unverified
    bad_topic_msg: str = "error:handler not found,topic:{topic}"
    spot_bad_topic_msg: str = "Invalid symbol :[{topic}]"
    ack_req_id: bool = True  # False: acks carry "req_id":"" (the docs' linear sample)


@dataclass
class _Session:
    ws: ServerConnection
    category: str
    conn_id: str
    kline_last: dict[str, int] = field(default_factory=dict)  # topic -> start last pushed
    ticker_last: dict[str, dict[str, Any]] = field(default_factory=dict)
    trade_topics: set[str] = field(default_factory=set)
    last_ping: float = field(default_factory=time.monotonic)
    stalled_until: float = 0.0
    ignore_pings_until: float = 0.0
    delay_until: float = 0.0
    delay_s: float = 0.0
    silent_until: float = 0.0
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class FakeStream:
    """The fake stream server for one `FakeBybit` (its series and clock); `url` is the base."""

    def __init__(
        self,
        fake: FakeBybit,
        config: FakeStreamConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.fake = fake
        self.config = config or FakeStreamConfig()
        self.host, self.port = host, port
        # (conn_id, frame) of every client frame, the newest 100,000 in a long-running fake
        self.received: deque[tuple[str, dict[str, Any]]] = deque(maxlen=100_000)
        self.handshakes = 0  # accepted
        self.rejected_handshakes = 0
        self.sent: Counter[str] = Counter()  # data frames by kind: kline, confirm, snapshot, delta
        self._sessions: dict[str, _Session] = {}
        self._ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._handshake_faults: list[WsFault] = []
        self._bad_topics: set[str] = set()
        self._confirm_faults: list[WsFault] = []
        self._accept_faults: list[WsFault] = []  # drop / close the next connections on accept
        self.handshake_times: list[float] = []  # monotonic time of each accepted handshake
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-bybit-ws", daemon=True)
        self._error: BaseException | None = None
        # Faults over HTTP too, next to the REST fake's own: POST /__fake__/ws-faults.
        fake.app.router.routes.append(
            Route("/__fake__/ws-faults", self._http_faults, methods=["POST"])
        )

    # ---- lifecycle ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def url_for(self, category: str) -> str:
        return f"{self.url}/v5/public/{category}"

    def start(self, timeout_s: float = 10.0) -> FakeStream:
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            raise RuntimeError(f"fake stream did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeStream:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server: Server = await serve(
            self._handle, self.host, self.port, process_request=self._process_request,
            ping_interval=self.config.protocol_ping_interval_s, max_size=2**20,
        )  # fmt: skip
        self.port = server.sockets[0].getsockname()[1] if self.port == 0 else self.port
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            server.close()
            await server.wait_closed()

    # ---- faults ---------------------------------------------------------------------------
    def inject(self, *faults: WsFault) -> int:
        """Apply faults: connection faults hit the connections open now, the others wait for
        their event (a handshake, a confirm, a subscribe). Returns the connections open when
        the faults were applied (a drop closes them right after, so count them first)."""
        assert self._loop is not None, "start() the fake stream first"
        done = threading.Event()
        open_now = [0]

        def apply() -> None:
            open_now[0] = self.connections()
            for fault in faults:
                self._apply(fault)
            done.set()

        self._loop.call_soon_threadsafe(apply)
        done.wait(10)
        return open_now[0]

    async def _http_faults(self, request: StarletteRequest) -> JSONResponse:
        raw = await request.json()
        try:
            faults = TypeAdapter(list[WsFault]).validate_python(
                raw if isinstance(raw, list) else [raw]
            )
        except ValidationError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        hit = await asyncio.to_thread(self.inject, *faults)
        return JSONResponse({"injected": len(faults), "connections": hit})

    def clear_faults(self) -> None:
        """Forget waiting faults (handshake rejects, confirm faults, rejected topics)."""
        self._handshake_faults.clear()
        self._confirm_faults.clear()
        self._bad_topics.clear()
        self._accept_faults.clear()

    def connections(self) -> int:
        """Connections open now."""
        return len(self._sessions)

    def _apply(self, f: WsFault) -> None:
        if f.kind == "reject_handshake":
            self._handshake_faults.append(f)
        elif f.kind == "reject_topic":
            self._bad_topics.add(f.topic or "")
        elif f.kind in ("skip_confirm", "duplicate_confirm"):
            self._confirm_faults.append(f)
        else:
            for s in list(self._sessions.values()):
                if f.category in (None, s.category):
                    self._hit(s, f)
            if f.kind in ("drop", "close") and f.times > 1:  # also the next connections
                self._accept_faults.append(f.model_copy(update={"times": f.times - 1}))

    def _hit(self, s: _Session, f: WsFault) -> None:
        until = time.monotonic() + f.duration_s
        if f.kind == "drop":
            s.ws.transport.abort()
        elif f.kind == "close":
            asyncio.get_running_loop().create_task(s.ws.close(f.code, f"fault {f.code}"))
        elif f.kind == "stall":
            s.stalled_until = until
            s.ws.transport.pause_reading()
            asyncio.get_running_loop().call_later(f.duration_s, _resume, s)
        elif f.kind == "ignore_pings":
            s.ignore_pings_until = until
        elif f.kind == "delay":
            s.delay_until, s.delay_s = until, f.delay_s
        elif f.kind == "silence":
            s.silent_until = until
        elif f.kind == "malformed":
            frames = [_BROKEN[i % len(_BROKEN)] for i in range(f.times)]
            asyncio.get_running_loop().create_task(self._send_raw(s, frames))

    def _take_confirm_fault(self, category: str) -> str | None:
        fault = _take(self._confirm_faults, category)
        return None if fault is None else fault.kind

    # ---- connections -------------------------------------------------------------------------
    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        category = path.removeprefix("/v5/public/")
        if not path.startswith("/v5/public/") or category not in CATEGORIES:
            return conn.respond(404, "Not Found\n")
        fault = _take(self._handshake_faults, category)
        if fault is not None:
            self.rejected_handshakes += 1
            return conn.respond(fault.status, f"fault {fault.status}\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        category = (
            ws.request.path.split("?", 1)[0].removeprefix("/v5/public/") if ws.request else ""
        )
        s = _Session(ws, category, f"fake-{next(self._ids)}")
        self._sessions[s.conn_id] = s
        self.handshakes += 1
        self.handshake_times.append(time.monotonic())
        pusher = asyncio.create_task(self._push_loop(s))
        fault = _take(self._accept_faults, category)
        if fault is not None:  # a server that accepts, then drops at once
            self._hit(s, fault)
        try:
            async for raw in ws:
                await self._on_frame(s, raw)
        except ConnectionClosed:
            pass  # abnormal closes are what the faults are for
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await pusher
            self._sessions.pop(s.conn_id, None)

    async def _on_frame(self, s: _Session, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        self.received.append((s.conn_id, msg))
        op, req_id = msg.get("op"), str(msg.get("req_id") or "")
        if op == "ping":
            s.last_ping = time.monotonic()
            if time.monotonic() >= s.ignore_pings_until:
                await self._send(s, self._pong(s, req_id))
        elif op == "subscribe":
            await self._send(s, self._subscribe(s, req_id, msg.get("args")))
            s.wake.set()
        elif op == "unsubscribe":
            for topic in msg.get("args") or []:
                s.kline_last.pop(topic, None)
                s.ticker_last.pop(topic, None)
                s.trade_topics.discard(topic)
            await self._send(s, self._ack(s, req_id, "unsubscribe", True, ""))
        else:
            await self._send(s, self._ack(s, req_id, str(op), False, "error:invalid op"))

    def _pong(self, s: _Session, req_id: str) -> dict[str, Any]:
        pong: dict[str, Any] = {"success": True, "ret_msg": "pong", "conn_id": s.conn_id}
        if s.category != "spot":
            pong["req_id"] = req_id
        return pong | {"op": "ping"}

    def _ack(self, s: _Session, req_id: str, op: str, ok: bool, msg: str) -> dict[str, Any]:
        rid = req_id if self.config.ack_req_id else ""
        return {"success": ok, "ret_msg": msg, "conn_id": s.conn_id, "req_id": rid, "op": op}

    def _subscribe(self, s: _Session, req_id: str, args: Any) -> dict[str, Any]:
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args) or not args:
            return self._ack(s, req_id, "subscribe", False, "error:args is empty or not a list")
        if s.category == "spot" and len(args) > self.config.spot_max_args:
            return self._ack(
                s, req_id, "subscribe", False, f"args size >{self.config.spot_max_args}"
            )
        for topic in args:
            if topic in self._bad_topics or not self._topic_ok(s.category, topic):
                text = (
                    self.config.spot_bad_topic_msg
                    if s.category == "spot"
                    else self.config.bad_topic_msg
                )
                return self._ack(s, req_id, "subscribe", False, text.format(topic=topic))
        dup = [t for t in args if t in s.kline_last or t in s.ticker_last or t in s.trade_topics]
        for topic in args:
            if topic.startswith("kline.") and topic not in s.kline_last:
                s.kline_last[topic] = -1
            elif topic.startswith("tickers.") and topic not in s.ticker_last:
                s.ticker_last[topic] = {}
            elif topic.startswith("publicTrade."):
                s.trade_topics.add(topic)
        if dup:
            return self._ack(
                s, req_id, "subscribe", False, f"error:already subscribed,topic:{dup[0]}"
            )
        return self._ack(s, req_id, "subscribe", True, "subscribe" if s.category == "spot" else "")

    def _topic_ok(self, category: str, topic: str) -> bool:
        parts = topic.split(".")
        if len(parts) == 3 and parts[0] == "kline":
            return parts[1] in INTERVALS and self.fake.lists(category, parts[2])
        if len(parts) == 2 and parts[0] in ("tickers", "publicTrade"):
            return self.fake.lists(category, parts[1])
        return False

    # ---- pushing ------------------------------------------------------------------------------
    async def _push_loop(self, s: _Session) -> None:
        while True:
            now = time.monotonic()
            if now - s.last_ping > self.config.idle_timeout_s:
                await s.ws.close(1000, "idle")
                return
            if now >= s.stalled_until and now >= s.silent_until:
                for topic in list(s.kline_last):
                    await self._push_kline(s, topic)
                for topic in list(s.ticker_last):
                    await self._push_ticker(s, topic)
                for topic in list(s.trade_topics):
                    await self._push_trades(s, topic)
            s.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.push_interval_s):
                    await s.wake.wait()

    async def _push_kline(self, s: _Session, topic: str) -> None:
        _, interval, symbol = topic.split(".")
        now = self.fake.clock()
        series = self.fake.series(s.category, symbol, interval)
        idx = int(np.searchsorted(series.time, now, side="right")) - 1
        if idx < 0:
            return
        start = int(series.time[idx])
        last = s.kline_last.get(topic, -1)
        if 0 <= last < start:
            prev = int(np.searchsorted(series.time, last))
            fault = self._take_confirm_fault(s.category)
            if fault != "skip_confirm":
                item = self._final_item(s.category, series, prev, interval, now)
                for _ in range(2 if fault == "duplicate_confirm" else 1):
                    self.sent["confirm"] += 1
                    await self._send(s, _kline_msg(topic, item, now))
        s.kline_last[topic] = start
        await self._send(
            s, _kline_msg(topic, self._open_item(s.category, symbol, interval, start, now), now)
        )

    def _final_item(
        self, category: str, series: Any, i: int, interval: str, now: int
    ) -> dict[str, Any]:
        start = int(series.time[i])
        vol, turn = float(series.volume[i]), float(series.turnover[i])
        return _item(start, interval, [float(series.open[i]), float(series.high[i]), float(series.low[i]),
                                       float(series.close[i])], vol, turn, category, confirm=True, ts=now)  # fmt: skip

    def _open_item(
        self, category: str, symbol: str, interval: str, start: int, now: int
    ) -> dict[str, Any]:
        """The candle so far: its minutes up to now (the whole minute for interval 1)."""
        minutes = self.fake.series(category, symbol, "1")
        lo = int(np.searchsorted(minutes.time, start))
        hi = max(lo + 1, int(np.searchsorted(minutes.time, now, side="right")))
        m = minutes.take(slice(lo, hi))
        ohlc = [float(m.open[0]), float(m.high.max()), float(m.low.min()), float(m.close[-1])]
        vol, turn = round(float(m.volume.sum()), 8), round(float(m.turnover.sum()), 8)
        return _item(start, interval, ohlc, vol, turn, category, confirm=False, ts=now)

    async def _push_ticker(self, s: _Session, topic: str) -> None:
        symbol = topic.split(".", 1)[1]
        row = self.fake.ticker(s.category, symbol)
        last = s.ticker_last.get(topic) or {}
        now = self.fake.clock()
        kind, data = "snapshot", row
        if last and s.category != "spot":  # linear and inverse: changed fields only
            kind, data = "delta", {k: v for k, v in row.items() if last.get(k) != v}
            if not data:
                return
            data["symbol"] = symbol
        s.ticker_last[topic] = row
        self.sent[kind] += 1
        msg = {"topic": topic, "type": kind, "data": data, "cs": now, "ts": now}
        await self._send(s, msg)

    async def _push_trades(self, s: _Session, topic: str) -> None:
        """Two trades at the current minute's close, ids and `seq` counting up (spec §5)."""
        symbol = topic.split(".", 1)[1]
        now = self.fake.clock()
        minutes = self.fake.series(s.category, symbol, "1")
        i = max(0, int(np.searchsorted(minutes.time, now, side="right")) - 1)
        price = format_number(float(minutes.close[i]))
        seq = next(self._trade_ids)
        data = [{"T": now, "s": symbol, "S": side, "v": "0.001", "p": price, "L": "ZeroPlusTick",
                 "i": f"{seq}-{n}", "BT": False, "seq": seq} for n, side in enumerate(("Buy", "Sell"))]  # fmt: skip
        self.sent["trade"] += 1
        await self._send(s, {"topic": topic, "type": "snapshot", "ts": now, "data": data})

    async def _send(self, s: _Session, msg: dict[str, Any]) -> None:
        await self._send_raw(s, [json.dumps(msg, separators=(",", ":"))])

    async def _send_raw(self, s: _Session, frames: list[str | bytes]) -> None:
        for frame in frames:
            if time.monotonic() < s.delay_until:
                await asyncio.sleep(s.delay_s)
            with contextlib.suppress(ConnectionClosed):
                await s.ws.send(frame)


def _take(faults: list[WsFault], category: str) -> WsFault | None:
    """The first waiting fault for `category`, consuming one of its `times`."""
    for i, f in enumerate(faults):
        if f.category in (None, category):
            if f.times <= 1:
                del faults[i]
            else:
                faults[i] = f.model_copy(update={"times": f.times - 1})
            return f
    return None


def _resume(s: _Session) -> None:
    with contextlib.suppress(Exception):
        s.ws.transport.resume_reading()


def _item(
    start: int, interval: str, ohlc: list[float], vol: float, turn: float, category: str,
    *, confirm: bool, ts: int,
) -> dict[str, Any]:  # fmt: skip
    if category == "inverse":  # as REST: volume in USD, turnover in coin
        vol, turn = turn, vol
    o, h, lo, c = (format_number(x) for x in ohlc)
    return {
        "start": start, "end": next_open(start, interval) - 1, "interval": interval,
        "open": o, "close": c, "high": h, "low": lo,
        "volume": format_number(vol), "turnover": format_number(turn),
        "confirm": confirm, "timestamp": min(ts, next_open(start, interval) - 1),
    }  # fmt: skip


def _kline_msg(topic: str, item: dict[str, Any], now: int) -> dict[str, Any]:
    return {"topic": topic, "type": "snapshot", "ts": now, "data": [item]}
