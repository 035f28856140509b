"""One kline stream (category, symbol, interval): closes candles, repairs gaps from REST,
upserts closed candles into the store, then publishes (shared/specs/bybit-ws.md §3, §8.3).

Bybit promises neither exactly one `confirm:true` per candle nor any ordering, so a
candle is closed by its confirm or by the first message of a later candle, whichever
comes first; every hole between the last closed candle and a new one is fetched from
REST. Candles REST does not have are recorded as gaps, never forward-filled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import numpy as np

from market._ws_protocol import (
    TICKS_CHANNEL,
    KlineItem,
    candle_channel,
    candle_event,
)
from market._ws_status import Counters, LastCandle, LiveConfig, RecordedGap
from market.bybit import BybitClient
from market.store import CandleStore, DatasetKey
from ohlcv import Candles, floor_time, interval_ms, next_open

__all__ = ["CandleTopic", "Outlet", "Publish"]

log = logging.getLogger("market.live")

Publish = Callable[[str, str], Awaitable[None]]
Source = Literal["ws", "rest"]
HOUR_MS = 3_600_000


class Outlet:
    """Publishes each event on its own channel and on `bybit:ticks`; a failing publisher is
    counted and logged, never fatal (Redis pub/sub is fire-and-forget anyway)."""

    def __init__(self, publish: Publish, counters: Counters):
        self._publish = publish
        self._counters = counters

    async def send(self, channel: str, text: str) -> None:
        for ch in (channel, TICKS_CHANNEL):
            try:
                await self._publish(ch, text)
            except Exception as exc:  # the publisher is someone else's code
                self._counters.publish_errors += 1
                if self._counters.publish_errors in (1, 10, 100) or not (
                    self._counters.publish_errors % 1000
                ):
                    n = self._counters.publish_errors
                    log.warning("publish to %s failed (%d so far): %r", ch, n, exc)


def close_grace_ms(interval: str, config: LiveConfig) -> int:
    """How long after a candle's end we wait for its confirm before asking REST."""
    if config.close_grace_ms is not None:
        return config.close_grace_ms
    return 10_000 if interval_ms(interval) <= HOUR_MS else 60_000


class CandleTopic:
    """State of one kline stream. `feed` never blocks the connection's reader: items are
    queued and handled in order by `run`, which also fires the timers (no confirm by
    end + grace, pending REST repairs, the silence watchdog)."""

    def __init__(
        self,
        category: str,
        symbol: str,
        interval: str,
        *,
        store: CandleStore,
        client: BybitClient,
        outlet: Outlet,
        counters: Counters,
        config: LiveConfig,
        clock: Callable[[], int],
    ):
        self.category, self.symbol, self.interval = category, symbol, interval
        self.key = DatasetKey.of(category, symbol, interval)
        self.channel = candle_channel(category, symbol, interval)
        self._store, self._client, self._outlet = store, client, outlet
        self._counters, self._config, self._clock = counters, config, clock
        self._grace = close_grace_ms(interval, config)
        self._queue: asyncio.Queue[tuple[KlineItem, int]] = asyncio.Queue()
        self.last_closed: int | None = None
        self._last_closed_item: KlineItem | None = None
        self.current: KlineItem | None = None
        self._pending: list[tuple[int, int, int]] = []  # (lo, hi, tries with rows missing)
        self._unfilled: set[int] = set()  # starts REST did not have: a late confirm still fills
        self._next_retry = 0.0
        self.last_message = time.monotonic()
        self.last_event: LastCandle | None = None
        self.last_event_text: str | None = None  # the last envelope published, open or closed
        self._last_event_mono = 0.0
        self.on_silence: Callable[[], None] | None = None

    # ---- input -----------------------------------------------------------------
    def feed(self, item: KlineItem, ts: int) -> None:
        self.last_message = time.monotonic()
        self._queue.put_nowait((item, ts))

    def load_last_closed(self) -> None:
        """Start from the newest stored candle, so a restart repairs what it missed."""
        since = self._clock() - self._config.max_repair_bars * interval_ms(self.interval)
        try:
            stored = self._store.load(self.key, start=since)
        except Exception as exc:  # an unreadable store must not stop the stream
            log.warning(
                "%s: cannot read the store (%r); no repair before the first candle", self.key, exc
            )
            return
        if len(stored):
            self.last_closed = int(stored.time[-1])

    async def run(self) -> None:
        next_tick = time.monotonic() + self._config.tick_s
        while True:
            item: tuple[KlineItem, int] | None = None
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel.
                async with asyncio.timeout(max(0.0, next_tick - time.monotonic())):
                    item = await self._queue.get()
            except TimeoutError:
                pass
            try:  # one bad message or a store hiccup must not end the topic
                if item is not None:
                    await self._handle(*item)
                if time.monotonic() >= next_tick:  # timers run even under a steady stream
                    next_tick = time.monotonic() + self._config.tick_s
                    await self._timers()
            except Exception:
                log.exception("%s: failed to handle a kline message or timer", self.key)

    # ---- closing -----------------------------------------------------------------
    async def _handle(self, it: KlineItem, ts: int) -> None:
        if self.last_closed is not None and it.start <= self.last_closed:
            await self._after_close(it, ts)
            return
        cur = self.current
        if cur is not None and (
            it.start < cur.start or (it.start == cur.start and it.timestamp < cur.timestamp)
        ):
            return  # an older candle or an older state of this one
        if cur is None or it.start > cur.start:
            await self._repair_before(it.start)
        if it.confirm:
            await self._close(it, "ws", ts)
        else:
            self.current = it
            await self._emit(it, "ws", closed=False, ts=ts)

    async def _after_close(self, it: KlineItem, ts: int) -> None:
        """A message for a candle already closed: only a confirm with new values counts."""
        if not it.confirm:
            return  # confirm:false never overrides a closed candle
        if it.start in self._unfilled:
            self._unfilled.discard(it.start)
            await self._close(it, "ws", ts, advance=False)
            return
        last = self._last_closed_item
        if last is not None and last.start == it.start and last.values() != it.values():
            await self._close(it, "ws", ts)  # latest wins

    async def _close(self, it: KlineItem, source: Source, ts: int, *, advance: bool = True) -> None:
        await self._upsert(_to_candles([it]))
        self._counters.closed += 1
        if advance:
            self.last_closed = max(self.last_closed or it.start, it.start)
            self._last_closed_item = it
            if self.current is not None and self.current.start <= it.start:
                self.current = None
        await self._emit(it, source, closed=True, ts=ts)

    async def _upsert(self, candles: Candles) -> None:
        # A parquet chunk read and rewrite takes tens to hundreds of ms: on a thread, so the
        # other topics' messages (tickers, other symbols) are not held up meanwhile. This
        # topic's own queue waits, so stored-before-published still holds.
        synthetic = self._client.synthetic or None
        await asyncio.to_thread(self._store.upsert, self.key, candles, synthetic=synthetic)

    async def _emit(self, it: KlineItem, source: Source, *, closed: bool, ts: int) -> None:
        text = candle_event(
            self.category, self.symbol, self.interval, it, source=source, closed=closed, ts=ts
        )
        self.last_event = LastCandle(
            channel=self.channel,
            start=it.start,
            close=it.close,
            closed=closed,
            source=source,
            age_s=0.0,
        )
        self._last_event_mono = time.monotonic()
        self.last_event_text = text
        await self._outlet.send(self.channel, text)

    def status(self) -> LastCandle | None:
        if self.last_event is None:
            return None
        age = time.monotonic() - self._last_event_mono
        return self.last_event.model_copy(update={"age_s": round(age, 3)})

    # ---- repair -------------------------------------------------------------------
    async def _repair_before(self, start: int) -> None:
        """Fetch every candle between the last closed one and `start` (a new candle)."""
        if self.last_closed is not None:
            lo = next_open(self.last_closed, self.interval)
        elif self.current is not None:
            lo = self.current.start  # rolled over without its confirm
        else:
            return
        self.current = None
        floor_lo = start - self._config.max_repair_bars * interval_ms(self.interval)
        if lo < floor_lo:
            log.warning("%s: %d ms missing before the stream; repairing the newest %d bars",
                        self.key, floor_lo - lo, self._config.max_repair_bars)  # fmt: skip
            lo = floor_time(floor_lo, self.interval)
        if lo <= start - 1:
            await self._repair(lo, start - 1)
            self.last_closed = max(self.last_closed or lo, floor_time(start - 1, self.interval))

    async def _repair(self, lo: int, hi: int, tries: int = 0) -> bool:
        """Closed candles with open times in [lo, hi] from REST: upsert, then publish oldest
        first. False (and kept for a retry) when REST failed."""
        try:
            got, _ = await self._client.fetch_candles(
                self.symbol, self.interval, lo, hi, category=self.category, validate=False
            )
        except Exception as exc:  # REST down or banned: keep the range, retry on a timer
            log.warning("%s: REST repair of [%d, %d] failed: %r; will retry", self.key, lo, hi, exc)
            self._pending.append((lo, hi, tries))
            return False
        got = got.between(lo, hi)
        self._unfilled.difference_update(got.time.tolist())
        if len(got):
            await self._upsert(got)
            self._counters.repaired += len(got)
            self._counters.closed += len(got)
            now = self._clock()
            for item in _to_items(got, self.interval):
                await self._emit(item, "rest", closed=True, ts=now)
                if self._last_closed_item is None or item.start >= self._last_closed_item.start:
                    self._last_closed_item = item
            if self.current is not None and self.current.start <= int(got.time[-1]):
                self.current = None  # closed by this repair
        self._record_gaps(lo, hi, got, tries)
        return True

    def _record_gaps(self, lo: int, hi: int, got: Candles, tries: int) -> None:
        """Candles REST lacks are asked for once more (REST may not count the newest as
        closed yet), then recorded as gaps; a late confirm still fills them."""
        expected = _opens(lo, hi, self.interval)
        missing = sorted(set(expected) - set(got.time.tolist()))
        if not missing:
            return
        self._unfilled.update(missing)
        runs: list[list[int]] = []
        for t in missing:
            if runs and next_open(runs[-1][-1], self.interval) == t:
                runs[-1].append(t)
            else:
                runs.append([t])
        for run in runs:
            if tries < 1:
                self._pending.append((run[0], run[-1], tries + 1))
                continue
            gap = RecordedGap(category=self.category, symbol=self.symbol, interval=self.interval,
                              start=run[0], end=next_open(run[-1], self.interval) - 1)  # fmt: skip
            self._counters.gaps.append(gap)
            log.warning(
                "%s: REST has no candles in [%d, %d]; recorded as a gap",
                self.key,
                gap.start,
                gap.end,
            )

    async def _timers(self) -> None:
        cur = self.current
        if cur is not None and self._clock() > cur.end + self._grace:
            # No confirm by end + grace: the final values come from REST (kept for a
            # retry if REST fails; a late confirm still fills it if REST lacks it).
            self.current = None
            await self._repair(cur.start, cur.start)
            self.last_closed = max(self.last_closed or cur.start, cur.start)
        now = time.monotonic()
        if self._pending and now >= self._next_retry:
            self._next_retry = now + self._config.repair_retry_s
            pending, self._pending = self._pending, []
            for lo, hi, tries in pending:
                await self._repair(lo, hi, tries)
        if now - self.last_message > self._config.watchdog_s:
            self.last_message = now
            log.warning(
                "%s: no kline for %.0f s; resubscribing and checking REST",
                self.key,
                self._config.watchdog_s,
            )
            if self.on_silence is not None:
                self.on_silence()
            if self.last_closed is not None:
                lo = next_open(self.last_closed, self.interval)
                hi = floor_time(self._clock(), self.interval) - 1  # closed candles only
                if lo <= hi and await self._repair(lo, hi):
                    self.last_closed = floor_time(hi, self.interval)


def _opens(lo: int, hi: int, interval: str) -> list[int]:
    out: list[int] = []
    t = floor_time(lo, interval)
    if t < lo:
        t = next_open(t, interval)
    while t <= hi:
        out.append(t)
        t = next_open(t, interval)
    return out


def _to_candles(items: list[KlineItem]) -> Candles:
    cols = np.array([[float(x) for x in it.values()] for it in items], dtype=np.float64)
    times = np.array([it.start for it in items], dtype=np.int64)
    o, h, lo, c, vol, turn = (np.ascontiguousarray(cols[:, i]) for i in range(6))
    return Candles(times, o, h, lo, c, vol, turn)


def _to_items(c: Candles, interval: str) -> list[KlineItem]:
    """REST rows as kline items, numbers written back as the shortest text that reads the same."""
    items = []
    ends = [next_open(int(t), interval) - 1 for t in c.time.tolist()]
    rows = zip(c.time.tolist(), ends, c.open.tolist(), c.high.tolist(), c.low.tolist(),
               c.close.tolist(), c.volume.tolist(), c.turnover.tolist(), strict=True)  # fmt: skip
    for t, end, *vals in rows:
        texts = [_num(v) for v in vals]
        items.append(KlineItem.of(t, end, texts, confirm=True, timestamp=end))
    return items


def _num(x: float) -> str:
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text
