"""The live service: `market.LiveStream` -> candle store + fan-out, with the relay's counters.

`AppContext.live` holds one. `serve --transport http` starts the stream in the background
when BYBIT_WS_ENABLED=1; `bybit-tester live` runs it on its own. The relay
(`mcp_server.http.live`) and `watch_market` read from it whether or not this process runs
the stream: with a Redis fan-out the stream may run in another process.

Channels (the relay refuses others): `bybit:ticks` (every event), and per stream
`bybit:candle:{category}:{symbol}:{interval}` and `bybit:ticker:{category}:{symbol}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import market as M
from mcp_server._live_mirror import FanoutMirror
from mcp_server.errors import LiveNotRunningError
from mcp_server.settings import LiveSettings
from mcp_server.telemetry import Telemetry

__all__ = ["LiveService", "live_config"]

log = logging.getLogger("mcp_server.live")

CandleListener = Callable[[str, dict[str, Any]], None]


def live_config(settings: LiveSettings) -> M.LiveConfig:
    """The stream's timings: the reconnect delays from the settings, the rest by the spec."""
    return M.LiveConfig(
        backoff_initial_s=settings.reconnect_delay_s,
        backoff_max_s=max(settings.reconnect_delay_max_s, settings.reconnect_delay_s),
    )


class LiveService:
    """See the module docstring."""

    def __init__(
        self, settings: LiveSettings, store: M.CandleStore, telemetry: Telemetry, fanout_url: str
    ) -> None:
        self.settings = settings
        self._store = store
        self._telemetry = telemetry
        self._fanout_url = settings.fanout_url or fanout_url
        self._fanout: M.Fanout | None = None
        self.stream: M.LiveStream | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._synced = {"messages": 0, "reconnects": 0, "repaired": 0}
        self._listeners: list[CandleListener] = []
        self.relay_clients = 0
        self.relay_dropped = 0
        self._seen: dict[str, float] = {}  # channel -> when its last event was published
        self._mirror: FanoutMirror | None = None  # events of a stream in another process

    # ---- parts -----------------------------------------------------------------------------
    @property
    def fanout(self) -> M.Fanout:
        if self._fanout is None:
            self._fanout = M.make_fanout(self._fanout_url)
        return self._fanout

    def channels(self) -> list[str]:
        """Every channel the configured stream publishes on (the relay serves these)."""
        s = self.settings
        return M.channel_names(s.category, s.symbols, s.intervals)

    def streaming(self) -> list[str]:
        """The candle channels this process streams now (empty when not running)."""
        if self.stream is None:
            return []
        return [t.channel for t in self.stream.topics.values()]

    @property
    def running(self) -> bool:
        return self.stream is not None

    def on_closed_candle(self, listener: CandleListener) -> None:
        """Call `listener(channel, event)` for each closed candle this process streams."""
        self._listeners.append(listener)

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(
        self,
        client: M.BybitClient,
        *,
        config: M.LiveConfig | None = None,
        clock: Callable[[], int] | None = None,
    ) -> M.LiveStream:
        """Start streaming in the background (once); returns the stream."""
        if self.stream is not None:
            return self.stream
        s = self.settings
        specs = [M.TopicSpec(category=s.category, symbol=sym, intervals=tuple(s.intervals))
                 for sym in s.symbols]  # fmt: skip
        extra: dict[str, Any] = {} if clock is None else {"clock": clock}
        self.stream = M.LiveStream(
            specs, store=self._store, client=client, publish=self._publish, url=s.url,
            config=config or live_config(s), **extra,
        )  # fmt: skip
        self._tasks = [asyncio.create_task(self._run(self.stream))]
        log.info("live stream started", extra={"symbols": s.symbols, "intervals": s.intervals,
                                                "category": s.category})  # fmt: skip
        return self.stream

    async def start_for(self, market: M.MarketData) -> None:
        """Start with the market service's exchange client (for REST repairs)."""
        if market.client is None:
            log.error("live stream not started: the market service has no exchange client")
            return
        await self.start(market.client)

    async def _run(self, stream: M.LiveStream) -> None:
        try:
            await stream.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # the stream never gives up on its own; this is a bug
            log.exception("the live stream stopped")

    async def stop(self) -> None:
        """Stop the stream (if running) and close the fan-out."""
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.stop()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._tasks[0], 30)
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._sync_once(stream)
        if self._mirror is not None:
            mirror, self._mirror = self._mirror, None
            await mirror.aclose()
        if self._fanout is not None:
            fanout, self._fanout = self._fanout, None
            await fanout.aclose()

    # ---- publishing -------------------------------------------------------------------------
    async def _publish(self, channel: str, text: str) -> None:
        self._seen[channel] = time.monotonic()
        if self._listeners and channel.startswith("bybit:candle:") and '"closed":true' in text:
            event = json.loads(text)
            for listener in list(self._listeners):
                try:
                    listener(channel, event)
                except Exception:  # a listener is someone else's code
                    log.warning("closed-candle listener failed", exc_info=True)
        await self.fanout.publish(channel, text)

    # ---- relay accounting --------------------------------------------------------------------
    def relay_joined(self) -> None:
        self.relay_clients += 1
        self._telemetry.live_relay_clients.inc()

    def relay_left(self) -> None:
        self.relay_clients -= 1
        self._telemetry.live_relay_clients.dec()

    def relay_drop(self, n: int = 1) -> None:
        self.relay_dropped += n
        self._telemetry.live_relay_dropped.inc(n)

    def relay_sent(self, published_at: float) -> None:
        self._telemetry.live_delay.observe(max(0.0, time.time() - published_at))

    # ---- metrics and health ---------------------------------------------------------------------
    def sync_metrics(self) -> None:
        """Bring the Prometheus counters up to the stream's own (at scrape time: no timer)."""
        self._sync_once(self.stream)

    def _sync_once(self, stream: M.LiveStream | None) -> None:
        """Carry the stream's own counters into Prometheus counters (which only go up)."""
        if stream is None:
            return
        c = stream.counters
        now = {"messages": c.messages, "repaired": c.repaired,
               "reconnects": sum(conn.reconnects for conn in stream.connections)}  # fmt: skip
        t = self._telemetry
        for name, metric in (("messages", t.live_messages), ("reconnects", t.live_reconnects),
                             ("repaired", t.live_repaired)):  # fmt: skip
            delta = now[name] - self._synced[name]
            if delta > 0:
                metric.inc(delta)
            self._synced[name] = now[name]

    async def health(self) -> dict[str, Any]:
        """The `live` part of /health: connections' states and last-message ages."""
        out: dict[str, Any] = {
            "enabled": self.settings.enabled,
            "running": self.running,
            "relay_clients": self.relay_clients,
            "relay_dropped": self.relay_dropped,
        }
        if self._fanout is not None:
            out["fanout"] = await self._fanout.health()
        if self.stream is not None:
            st = self.stream.status()
            out["connections"] = [c.model_dump() for c in st.connections]
            out["messages_per_s"] = st.messages_per_s
            out["rejected_topics"] = [r.model_dump() for r in st.rejected_topics]
        return out

    async def snapshot(self, symbol: str, intervals: list[str], category: str) -> dict[str, Any]:
        """The latest candles (per interval) and ticker of a symbol, with their ages: from this
        process's stream, or else from the events another process publishes on Redis."""
        symbol = symbol.upper()
        if self.stream is not None:
            stream = self.stream
            candles = {iv: e for iv in intervals
                       if (e := stream.latest_candle(category, symbol, iv)) is not None}  # fmt: skip
            return {
                "candles": candles,
                "ages": {iv: self._age(M.candle_channel(category, symbol, iv)) for iv in candles},
                "ticker": stream.ticker(category, symbol),
                "ticker_age_s": self._age(M.ticker_channel(category, symbol)),
                "connections": [c.model_dump() for c in stream.status().connections],
            }
        how = ("set BYBIT_WS_ENABLED=1 (and BYBIT_WS_SYMBOLS / BYBIT_WS_INTERVALS) and start "
               "`bybit-tester serve --transport http`, or run `bybit-tester live` with the same "
               "REDIS_URL")  # fmt: skip
        if isinstance(self.fanout, M.MemoryFanout):
            raise LiveNotRunningError(f"the live stream is not running in this server; {how}")
        if self._mirror is None:
            self._mirror = FanoutMirror(self.fanout)
            await self._mirror.start()
        seen = {iv: hit for iv in intervals
                if (hit := self._mirror.get(M.candle_channel(category, symbol, iv))) is not None}  # fmt: skip
        ticker = self._mirror.get(M.ticker_channel(category, symbol))
        if not seen and ticker is None:
            raise LiveNotRunningError(
                f"no live data for {category} {symbol} on the fan-out yet (it is read from now "
                f"on; retry in a few seconds); if none comes, {how}"
            )
        return {
            "candles": {iv: hit[0] for iv, hit in seen.items()},
            "ages": {iv: hit[1] for iv, hit in seen.items()},
            "ticker": None if ticker is None else ticker[0].get("data"),
            "ticker_age_s": None if ticker is None else ticker[1],
            "connections": [],
        }

    def _age(self, channel: str) -> float | None:
        seen = self._seen.get(channel)
        return None if seen is None else round(time.monotonic() - seen, 3)
