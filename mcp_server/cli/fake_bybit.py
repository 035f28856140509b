"""`bybit-tester fake-bybit --port N`: serve the fake Bybit v5 API on loopback."""

from __future__ import annotations

import contextlib

import typer
from rich.console import Console

from mcp_server.cli._app import app
from mcp_server.cli.data import build_fake

console = Console(stderr=True)


@app.command("fake-bybit")
def fake_bybit(
    port: int = typer.Option(
        8089, "--port", "-p", min=0, max=65535, help="Loopback port (0 = any free port)"
    ),
    history_days: float = typer.Option(
        400.0, "--history-days", min=1.0, help="Days of candles per symbol"
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the synthetic candles"),
    ban_seconds: float = typer.Option(
        600.0, "--ban-seconds", min=0.0, help="403 ban after 600 req / 5 s"
    ),
) -> None:
    """Serve a fake Bybit (klines, instruments, tickers, funding, time, fault injection) on 127.0.0.1."""
    import socket

    import uvicorn

    fake = build_fake(history_days, seed=seed, ban_s=ban_seconds)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot listen on 127.0.0.1:{port}: {exc.strerror}")
        raise typer.Exit(2) from None
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    console.print(
        f"fake Bybit on [bold]{url}[/bold]  (faults: POST {url}/__fake__/faults, "
        f"stats: GET {url}/__fake__/stats); Ctrl-C to stop"
    )
    server = uvicorn.Server(uvicorn.Config(fake.app, log_level="warning", lifespan="off"))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
