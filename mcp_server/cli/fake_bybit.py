"""`bybit-tester fake-bybit --port N --ws-port M`: serve the fake Bybit v5 REST API and its
public WebSocket stream on loopback, sharing one candle series and clock."""

from __future__ import annotations

import contextlib

import typer
from rich.console import Console

import market as M
from mcp_server.cli._app import app
from mcp_server.cli.data import build_fake

console = Console(stderr=True)


@app.command("fake-bybit")
def fake_bybit(
    port: int = typer.Option(
        8089, "--port", "-p", min=0, max=65535, help="Loopback port (0 = any free port)"
    ),
    ws_port: int = typer.Option(
        8090, "--ws-port", min=0, max=65535, help="Loopback port of the WebSocket stream (0 = any)"
    ),
    history_days: float = typer.Option(
        400.0, "--history-days", min=1.0, help="Days of candles per symbol"
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the synthetic candles"),
    ban_seconds: float = typer.Option(
        600.0, "--ban-seconds", min=0.0, help="403 ban after 600 req / 5 s"
    ),
    speed: float = typer.Option(
        1.0, "--speed", min=0.001, help="Market time per real time (60 = one minute per second)"
    ),
    push_interval: float = typer.Option(
        1.0, "--push-interval", min=0.01, help="Seconds between the stream's kline/ticker pushes"
    ),
) -> None:
    """Serve a fake Bybit on 127.0.0.1: REST (klines, instruments, tickers, funding, time, fault
    injection) and the public WebSocket stream (klines, tickers) from the same candles."""
    import socket

    import uvicorn

    fake = build_fake(history_days, seed=seed, ban_s=ban_seconds, speed=speed)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot listen on 127.0.0.1:{port}: {exc.strerror}")
        raise typer.Exit(2) from None
    stream = M.FakeStream(fake, M.FakeStreamConfig(push_interval_s=push_interval), port=ws_port)
    try:
        stream.start()
    except RuntimeError:
        console.print(f"[red]error:[/red] cannot listen on 127.0.0.1:{ws_port} (WebSocket)")
        raise typer.Exit(2) from None
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    console.print(
        f"fake Bybit REST on [bold]{url}[/bold]  (faults: POST {url}/__fake__/faults, "
        f"stats: GET {url}/__fake__/stats)"
    )
    console.print(
        f"fake Bybit WebSocket on [bold]{stream.url}[/bold]  "
        f"({stream.url}/v5/public/{{spot,linear,inverse}}, market time x{speed:g}); Ctrl-C to stop"
    )
    server = uvicorn.Server(uvicorn.Config(fake.app, log_level="warning", lifespan="off"))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        stream.stop()
