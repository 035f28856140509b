"""`bybit-tester live --symbols BTCUSDT,ETHUSDT --intervals 1,5`: the live stream worker on its
own (store + fan-out), with a status line on stdout; logs go to stderr."""

from __future__ import annotations

import asyncio
import contextlib
import time

import typer
from rich.console import Console
from rich.live import Live
from rich.text import Text

import market as M
from mcp_server.cli._app import app
from mcp_server.context import open_context
from mcp_server.settings import LiveSettings, Settings

out = Console()


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@app.command("live")
def live(
    symbols: str | None = typer.Option(
        None, "--symbols", help="Comma-separated, e.g. BTCUSDT,ETHUSDT (default BYBIT_WS_SYMBOLS)"
    ),
    intervals: str | None = typer.Option(
        None, "--intervals", help="Kline intervals, e.g. 1,5 (default BYBIT_WS_INTERVALS)"
    ),
    category: str | None = typer.Option(
        None, "--category", help="linear, spot or inverse (default BYBIT_WS_CATEGORY)"
    ),
    url: str | None = typer.Option(None, "--url", help="WebSocket base URL (default BYBIT_WS_URL)"),
    seconds: float = typer.Option(
        0.0, "--seconds", min=0.0, help="Stop after N seconds (0 = Ctrl-C)"
    ),
) -> None:
    """Stream Bybit klines and tickers into the local store and the fan-out (Redis with
    BST_LIVE_FANOUT_URL / REDIS_URL, for `serve`'s /api/v1/live relay), showing a status line."""
    from mcp_server.logs import configure_logging

    base = Settings()
    update = {k: v for k, v in {"symbols": _csv(symbols), "intervals": _csv(intervals),
                                "category": category, "url": url}.items() if v is not None}  # fmt: skip
    try:
        live_settings = LiveSettings.model_validate(base.live.model_dump() | update)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).splitlines()[-1].strip()) from None
    settings = Settings(base.server, base.router, admin=base.admin, jobs=base.jobs, live=live_settings)
    configure_logging(settings.server.log_level, settings.secrets())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings, seconds))


async def _run(settings: Settings, seconds: float) -> None:
    async with open_context(settings) as context:
        stream = await context.live.start(context.market().client)  # type: ignore[arg-type]
        deadline = time.monotonic() + seconds if seconds else None
        try:
            if out.is_terminal:
                with Live(status_line(stream), console=out, refresh_per_second=2) as view:
                    while deadline is None or time.monotonic() < deadline:
                        await asyncio.sleep(0.5)
                        view.update(status_line(stream))
            else:  # piped: one line a second
                while deadline is None or time.monotonic() < deadline:
                    await asyncio.sleep(1.0)
                    out.print(status_line(stream), soft_wrap=True)
        finally:
            await context.live.stop()


def status_line(stream: M.LiveStream) -> Text:
    """Connections, messages/s, reconnects, then the last candle of each topic."""
    st = stream.status()
    up = sum(c.state == "connected" for c in st.connections)
    reconnects = sum(c.reconnects for c in st.connections)
    line = Text()
    line.append(f"connections {up}/{len(st.connections)}", "green" if up else "red")
    line.append(f"  {st.messages_per_s:.1f} msg/s  {st.messages_total} msgs  "
                f"reconnects {reconnects}  repaired {st.repaired_candles}")  # fmt: skip
    if st.rejected_topics:
        line.append(f"  rejected {len(st.rejected_topics)}", "red")
    for c in st.last_candles:
        name = c.channel.removeprefix("bybit:candle:")
        state = "closed" if c.closed else "open"
        line.append(f"  | {name} {c.close} ({state}, {c.age_s:.1f}s)")
    return line
