"""The relay under uvicorn (a ServerThread) with its own settings, a WebSocket client helper,
and a raw handshake for header checks the websockets client will not let us fake."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect

from market import ServerThread
from mcp_server.context import AppContext
from mcp_server.http import build_http_app
from mcp_server.settings import LiveSettings, RouterSettings, ServerSettings, Settings


@dataclass
class Relay:
    server: ServerThread
    context: AppContext

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/api/v1/live"

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.server.url + path, timeout=30, **kw)

    def metric(self, name: str, headers: dict[str, str] | None = None) -> float:
        text = self.get("/metrics", headers=headers).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in /metrics")


def live_settings(**over: Any) -> LiveSettings:
    base: dict[str, Any] = {"enabled": False, "symbols": ["BTCUSDT"], "intervals": ["1"]}
    base.update(over)
    return LiveSettings(_env_file=None, **base)  # type: ignore[call-arg]


@contextmanager
def relay_server(
    tmp: Path, fanout_url: str, *, token: str | None = None, **live: Any
) -> Iterator[Relay]:
    server = ServerSettings(_env_file=None, data_dir=tmp / "relay-store", cache_url="memory://",  # type: ignore[call-arg]
                            http_token=SecretStr(token) if token else None)  # fmt: skip
    settings = Settings(server, RouterSettings(_env_file=None),  # type: ignore[call-arg]
                        live=live_settings(fanout_url=fanout_url, **live))  # fmt: skip
    app = build_http_app(settings, host="127.0.0.1", port=0)
    with ServerThread(app) as thread:
        yield Relay(thread, app.state.context)


def stuck_client(relay: Relay, channel: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads again, with a
    tiny fixed receive buffer (no autotuning to tens of MB): the relay feels it at once."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", relay.server.port))
    lines = [f"GET /api/v1/live?channel={channel} HTTP/1.1", f"Host: 127.0.0.1:{relay.server.port}",
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]  # fmt: skip
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = sock.recv(4096)
    assert b" 101 " in head, head
    return sock


async def subscribe(
    relay: Relay, channels: Sequence[str], *, query: str = "", **kw: Any
) -> ClientConnection:
    """Connect and wait for the relay's `subscribed` message."""
    url = f"{relay.ws}?channel={','.join(channels)}{query}"
    conn = await connect(url, open_timeout=30, **kw)
    first = json.loads(await asyncio.wait_for(conn.recv(), 30))
    assert first == {"v": 1, "kind": "subscribed", "channels": list(channels)}, first
    return conn


async def events(conn: ClientConnection, *, timeout: float = 60.0) -> dict[str, Any]:
    """The next event, skipping the relay's pings."""
    while True:
        msg = json.loads(await asyncio.wait_for(conn.recv(), timeout))
        if msg.get("kind") not in ("ping", "pong"):
            return msg  # type: ignore[no-any-return]


def raw_handshake(
    port: int,
    *,
    host: str,
    origin: str | None = None,
    path: str = "/api/v1/live?channel=bybit:ticks",
) -> str:
    """The status line the server answers a WebSocket upgrade with."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]  # fmt: skip
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return s.recv(4096).decode(errors="replace").split("\r\n", 1)[0]
