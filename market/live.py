"""`LiveStream`: Bybit v5 public klines and tickers -> CandleStore + a publish callback.

Every event is published twice: on its own channel (`bybit:candle:{category}:{symbol}:
{interval}`, `bybit:ticker:{category}:{symbol}`) and on `bybit:ticks`, as the JSON
envelope of shared/specs/bybit-ws.md §8.3. Closed candles are upserted into the store
before they are published, so a subscriber that sees one can re-read the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from market._ws_candles import CandleTopic, Outlet, Publish
from market._ws_conn import Connection
from market._ws_protocol import (
    MAINNET_WS_URL,
    TopicSpec,
    kline_topic,
    parse_kline_item,
    plan_connections,
    ticker_channel,
    ticker_event,
    ticker_topic,
    valid_interval,
    ws_url,
)
from market._ws_status import Counters, LiveConfig, LiveStatus, RejectedTopic
from market._ws_tickers import TickerBook
from market._ws_trades import TradeDeduper, trade_channel, trade_event
from market.bybit import BybitClient
from market.errors import UnknownSymbolError
from market.store import CandleStore

__all__ = ["LiveStream"]

log = logging.getLogger("market.live")


def _wall_ms() -> int:
    return int(time.time() * 1000)


class LiveStream:
    """Streams `specs` until `stop()`; see the module docstring.

    `url` is a base (`wss://stream.bybit.com`, the category path is appended) or a
    mapping category -> full URL. `clock` is the exchange's "now" in ms (the wall
    clock by default; tests pass the fake's clock). Unknown symbols and intervals are
    rejected one by one (see `status().rejected_topics`); the rest stream on.
    """

    def __init__(
        self,
        specs: Sequence[TopicSpec],
        *,
        store: CandleStore,
        client: BybitClient,
        publish: Publish,
        url: str | Mapping[str, str] = MAINNET_WS_URL,
        config: LiveConfig | None = None,
        clock: Callable[[], int] = _wall_ms,
    ):
        self.specs = list(specs)
        self.config = config or LiveConfig()
        self._store, self._client, self._clock = store, client, clock
        self._urls = url
        self.counters = Counters()
        self._outlet = Outlet(publish, self.counters)
        self._tickers = TickerBook()
        self._trades = TradeDeduper()
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=10_000)
        self.topics: dict[tuple[str, str, str], CandleTopic] = {}
        self.connections: list[Connection] = []
        self._stop = asyncio.Event()
        self._running = False

    def url_for(self, category: str) -> str:
        if isinstance(self._urls, str):
            return ws_url(self._urls, category)
        return self._urls[category]

    def stop(self) -> None:
        """Ask `run` to close every connection and return."""
        self._stop.set()

    async def run(self) -> None:
        """Validate, connect and stream until `stop()`; reconnects forever meanwhile."""
        self._running = True
        try:
            by_category = await self._plan()
            tasks = [asyncio.create_task(t.run()) for t in self.topics.values()]
            tasks.append(asyncio.create_task(self._drain_outbox()))
            for category, topics in by_category.items():
                for group in plan_connections(topics, self.config.max_args_chars):
                    conn = Connection(
                        category, self.url_for(category), group, config=self.config,
                        counters=self.counters, on_data=self._on_data,
                        on_rejected=self._reject, on_connected=self._tickers.reset,
                    )  # fmt: skip
                    self.connections.append(conn)
                    tasks.append(asyncio.create_task(conn.run()))
            try:
                await self._stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._running = False
            for conn in self.connections:
                conn.state = "stopped"

    # ---- planning ----------------------------------------------------------------------
    async def _plan(self) -> dict[str, list[str]]:
        by_category: dict[str, list[str]] = {}
        for spec in self.specs:
            if not await self._symbol_ok(spec):
                continue
            topics = by_category.setdefault(spec.category, [])
            for raw in spec.intervals:
                iv = valid_interval(raw)
                if iv is None:
                    self._reject(spec.category, kline_topic(spec.symbol, raw),
                                 f"unknown interval {raw!r}; Bybit streams 1 3 5 15 30 60 120 240 360 720 D W M")  # fmt: skip
                    continue
                if (spec.category, spec.symbol, iv) in self.topics:
                    continue
                topic = self._candle_topic(spec.category, spec.symbol, iv)
                self.topics[(spec.category, spec.symbol, iv)] = topic
                topics.append(kline_topic(spec.symbol, iv))
            if spec.tickers:
                topics.append(ticker_topic(spec.symbol))
            if spec.trades:
                topics.append(f"publicTrade.{spec.symbol}")
        return {c: list(dict.fromkeys(t)) for c, t in by_category.items() if t}

    async def _symbol_ok(self, spec: TopicSpec) -> bool:
        try:
            await self._client.validate_symbol(spec.symbol, spec.category)
        except UnknownSymbolError as exc:
            for iv in spec.intervals:
                self._reject(spec.category, kline_topic(spec.symbol, iv), str(exc))
            if spec.tickers:
                self._reject(spec.category, ticker_topic(spec.symbol), str(exc))
            return False
        except Exception as exc:  # REST down: let the stream itself accept or reject it
            log.warning("cannot validate %s %s over REST (%r); subscribing anyway",
                        spec.category, spec.symbol, exc)  # fmt: skip
        return True

    def _candle_topic(self, category: str, symbol: str, interval: str) -> CandleTopic:
        topic = CandleTopic(
            category, symbol, interval, store=self._store, client=self._client,
            outlet=self._outlet, counters=self.counters, config=self.config, clock=self._clock,
        )  # fmt: skip
        topic.load_last_closed()
        name = kline_topic(symbol, interval)
        topic.on_silence = lambda: self._resubscribe(category, name)
        return topic

    def _resubscribe(self, category: str, topic: str) -> None:
        if (category, topic) in self.counters.rejected:
            return
        for conn in self.connections:
            if conn.category == category and topic in conn.topics:
                conn.resubscribe([topic])

    def _reject(self, category: str, topic: str, reason: str) -> None:
        if (category, topic) not in self.counters.rejected:
            log.error("%s topic %s rejected: %s", category, topic, reason)
        self.counters.rejected[(category, topic)] = reason

    # ---- messages ------------------------------------------------------------------------
    async def _on_data(self, category: str, msg: dict[str, Any]) -> bool:
        """Route one data message; False when its shape is not one we know (counted malformed)."""
        topic: str = msg["topic"]
        kind, _, rest = topic.partition(".")
        ts = msg.get("ts")
        ts = ts if isinstance(ts, int) else self._clock()
        if kind == "kline":
            iv, _, symbol = rest.partition(".")
            target = self.topics.get((category, symbol, iv))
            data = msg.get("data")
            if target is None or not isinstance(data, list):
                return False
            try:
                items = [parse_kline_item(d, inverse=category == "inverse") for d in data]
            except ValueError:
                return False
            for item in items:
                target.feed(item, ts)
            return True
        if kind == "tickers":
            data = msg.get("data")
            if not isinstance(data, dict):
                return False
            try:
                merged = self._tickers.apply(category, rest, str(msg.get("type")), data)
            except ValueError:
                return False
            if merged is not None:
                self._post(ticker_channel(category, rest), ticker_event(category, rest, merged, ts))
            return True
        if kind == "publicTrade":
            data = msg.get("data")
            if not isinstance(data, list):
                return False
            try:
                fresh = self._trades.fresh(category, rest, data)
            except ValueError:
                return False
            if fresh:
                self._post(trade_channel(category, rest), trade_event(category, rest, fresh, ts))
            return True
        return False

    def _post(self, channel: str, text: str) -> None:
        # The reader never waits on the publisher: tickers go through a bounded outbox.
        if self._outbox.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._outbox.get_nowait()
            self.counters.publish_errors += 1
        self._outbox.put_nowait((channel, text))

    async def _drain_outbox(self) -> None:
        while True:
            channel, text = await self._outbox.get()
            await self._outlet.send(channel, text)

    # ---- status ---------------------------------------------------------------------------
    def status(self) -> LiveStatus:
        c = self.counters
        last = [s for t in self.topics.values() if (s := t.status()) is not None]
        rejected = [
            RejectedTopic(category=k[0], topic=k[1], reason=v) for k, v in c.rejected.items()
        ]
        return LiveStatus(
            running=self._running, connections=[conn.status() for conn in self.connections],
            messages_total=c.messages, messages_per_s=c.rate(), repaired_candles=c.repaired,
            closed_candles=c.closed, rejected_topics=rejected, malformed=c.malformed,
            publish_errors=c.publish_errors, gaps=list(c.gaps), last_candles=last,
        )  # fmt: skip

    def latest_candle(self, category: str, symbol: str, interval: str) -> dict[str, Any] | None:
        """The last candle event published for a stream (the §8.3 envelope), open or closed."""
        iv = valid_interval(interval) or interval
        topic = self.topics.get((category, symbol.upper(), iv))
        if topic is None or topic.last_event_text is None:
            return None
        event: dict[str, Any] = json.loads(topic.last_event_text)
        return event

    def ticker(self, category: str, symbol: str) -> dict[str, Any] | None:
        """The merged ticker fields of a symbol, if a snapshot has arrived."""
        return self._tickers.get(category, symbol.upper())
