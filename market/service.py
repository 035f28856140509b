"""`MarketData`: store first, exchange for what is missing, cache for hot ranges.

One call, `get_candles`, answers from the local store, fetches only the missing
ranges from Bybit (persisting pages as they arrive, so an interrupted backfill
resumes where it stopped), and caches closed ranges. On top of it: the seeds'
working set (the last N candles per key) and multi-timeframe views.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from market._backfill import BackfillReport, account
from market.bybit import BybitClient, FetchProgress, Gap
from market.cache import Cache, decode_arrays, encode_arrays
from market.errors import (
    ExchangeUnreachableError,
    InvalidRangeError,
    IPBannedError,
    RetryableExchangeError,
)
from market.store import CHUNK_CANDLES, CandleStore, DatasetKey
from ohlcv import (
    Candles,
    can_resample,
    floor_time,
    format_minute,
    interval_ms,
    next_open,
    normalize_interval,
    partial_edges,
    resample,
)

__all__ = ["BackfillReport", "MarketData", "Timeframe"]

log = logging.getLogger("market.service")

ProgressSink = Callable[[FetchProgress], object]
# The exchange stopped answering (a backfill reports these); a wrong request still raises.
_STOPPED = (RetryableExchangeError, ExchangeUnreachableError, IPBannedError)


@dataclass(frozen=True)
class Timeframe:
    """One timeframe of a multi-timeframe view. A partial bucket is marked, never passed
    off as whole: the first may start before the loaded base candles, and the last is
    usually still forming."""

    candles: Candles
    partial_first: bool
    partial_last: bool


class MarketData:
    """Candles for callers: local store, Bybit client for what is missing, optional cache."""

    def __init__(
        self,
        store: CandleStore,
        client: BybitClient | None = None,
        cache: Cache | None = None,
        *,
        flush_rows: int = CHUNK_CANDLES,
        flush_s: float = 10.0,
        clock_ms: Callable[[], int] | None = None,
    ):
        self.store = store
        self.client = client
        self.cache = cache
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._working: dict[tuple[str, str, str], Candles] = {}

    def _last_closed_open(self, interval: str, now: int) -> int:
        """Open time of the newest candle that has closed at `now`."""
        current = floor_time(now, interval)
        if interval == "M":
            return floor_time(current - 1, "M")
        return current - interval_ms(interval)

    def is_synthetic(self, symbol: str, interval: str, category: str = "linear") -> bool:
        """True when the stored candles of this data set are (partly) synthetic, i.e. came
        from a server that marks its data so, like our fake Bybit."""
        return self.store.is_synthetic(DatasetKey.of(category, symbol, interval))

    async def get_candles(
        self,
        symbol: str,
        interval: str,
        start: int,
        end: int | None = None,
        category: str = "linear",
        *,
        on_progress: ProgressSink | None = None,
    ) -> Candles:
        """Closed candles with open time in [floor(start), end], ascending, no duplicates.

        Raises `InvalidRangeError` if start is after end, or if the exchange has
        no candle at all in the range (e.g. it is before the symbol's first candle).
        """
        key = DatasetKey.of(category, symbol, interval)
        now = self._clock_ms()
        end = now if end is None else end
        if start > end:
            raise InvalidRangeError(f"start {_iso(start)} is after end {_iso(end)}")
        lo = floor_time(start, key.interval)
        hi = min(end, self._last_closed_open(key.interval, now))
        cache_key = f"candles:{key}:{lo}:{hi}"
        if self.cache is not None and hi >= lo:
            hit = await self.cache.get("market", cache_key)
            if hit is not None:
                return Candles.from_arrays(decode_arrays(hit), **self._labels(key))
        report = await self.fill(key, lo, hi, on_progress=on_progress) if hi >= lo else None
        candles = await asyncio.to_thread(self.store.load, key, lo, hi)
        if len(candles) == 0:
            raise InvalidRangeError(self._empty_message(key, lo, end, report))
        if self.cache is not None and not self.store.missing(key, lo, hi):
            await self.cache.set("market", cache_key, encode_arrays(candles.columns()))
        return candles

    def _labels(self, key: DatasetKey) -> dict[str, object]:
        return {
            "symbol": key.symbol,
            "interval": key.interval,
            "category": key.category,
            "synthetic": self.store.is_synthetic(key),
        }

    def _empty_message(
        self, key: DatasetKey, lo: int, end: int, report: BackfillReport | None
    ) -> str:
        stored = self.store.load(key, end)
        where = f"{key.symbol} {key.interval} ({key.category}) between {_iso(lo)} and {_iso(end)}"
        if len(stored):
            return f"no candles for {where}: the range is before the first candle ({_iso(int(stored.time[0]))})"
        if report is not None and report.reached_first_candle:
            return f"no candles for {where}: the range is before the symbol's first candle"
        if self.client is None:
            return f"no stored candles for {where} and no exchange client to fetch them"
        if report is not None and not report.ranges:
            return (
                f"no candles for {where}: an earlier fetch found the exchange has none there "
                "(the range is before the symbol's first candle or inside an exchange outage)"
            )
        return f"no candles for {where}"

    async def fill(
        self, key: DatasetKey, start: int, end: int, *, on_progress: ProgressSink | None = None
    ) -> BackfillReport:
        """Fetch and store every missing range inside [start, end]; returns what was done.
        Exchange errors are raised (what was fetched before them is stored)."""
        report = BackfillReport(key)
        await self._fill_into(report, start, end, on_progress)
        return report

    async def backfill(
        self, key: DatasetKey, start: int, end: int, *, on_progress: ProgressSink | None = None
    ) -> BackfillReport:
        """`fill`, then an account of the range: candles stored, candles missing, and a note.

        The exchange failing to answer does not raise here: it ends the fill and is kept in
        `report.error`, with `complete` False while candles are missing, so a caller
        can say what was stored and that calling again resumes.
        """
        report = BackfillReport(key)
        try:
            await self._fill_into(report, start, end, on_progress)
        except _STOPPED as exc:
            report.error = exc
        await asyncio.to_thread(account, self.store, report, start, end)
        return report

    async def _fill_into(
        self, report: BackfillReport, start: int, end: int, on_progress: ProgressSink | None
    ) -> None:
        key = report.key
        missing = await asyncio.to_thread(self.store.missing, key, start, end)
        if not missing:
            return
        if self.client is None:
            log.info(
                "%s: %d missing range(s), no exchange client; serving what is stored",
                key,
                len(missing),
            )
            return
        for gap in missing:
            await self._fill_range(key, gap, report, on_progress)

    async def _fill_range(
        self, key: DatasetKey, gap: Gap, report: BackfillReport, on_progress: ProgressSink | None
    ) -> None:
        assert self.client is not None
        buffers = _ChunkBuffers(
            self.store.chunk_span(key), key.interval, gap, self.flush_rows, self.flush_s
        )
        write_lock = asyncio.Lock()
        pending: list[asyncio.Task[None]] = []

        async def flush(batch: list[Candles]) -> None:
            async with write_lock:  # one writer at a time keeps upserts ordered
                synthetic = self.client is not None and self.client.synthetic
                report.added += await asyncio.to_thread(
                    self.store.upsert, key, Candles.concat(batch), synthetic=synthetic
                )

        def on_page(page: Candles) -> None:
            # Pages are buffered per store chunk and written when the chunk's share of the
            # range is complete (or after flush_rows rows / flush_s seconds), so each chunk
            # file is rewritten about once instead of once per flush of every window.
            ready = buffers.add(page)
            if ready:
                pending.append(asyncio.ensure_future(flush(ready)))

        try:
            got, progress = await self.client.fetch_candles(
                key.symbol, key.interval, gap.start, gap.end,
                category=key.category, on_page=on_page, on_progress=on_progress,
            )  # fmt: skip
        finally:
            rest = buffers.drain()
            if rest:
                pending.append(asyncio.ensure_future(flush(rest)))
            await asyncio.gather(*pending)
        report.ranges.append(gap)
        report.fetched += len(got)
        report.requests += progress.requests
        report.gaps += progress.gaps
        report.reached_first_candle |= progress.reached_first_candle
        # The walk covered the range, so holes below the newest candle received are holes on
        # the exchange; so is everything, when an empty page said nothing older exists. The
        # tail is never marked: those candles may simply not have closed yet.
        newest = int(got.time[-1]) if len(got) else None
        for hole in await asyncio.to_thread(self.store.missing, key, gap.start, gap.end):
            if (newest is not None and hole.end < newest) or (
                newest is None and progress.reached_first_candle
            ):
                await asyncio.to_thread(self.store.mark_empty, key, hole.start, hole.end)

    async def working_set(
        self,
        symbol: str,
        interval: str,
        category: str = "linear",
        *,
        size: int = 500,
        load_limit: int = 1000,
    ) -> Candles:
        """The last `size` closed candles for (category, symbol, interval), kept in memory.

        The first call loads up to `load_limit` candles; later calls top it up
        with candles closed since, de-duplicated latest-wins, ascending. The set in
        memory keeps as many rows as any caller asked for; each call gets its `size`.
        """
        key = DatasetKey.of(category, symbol, interval)
        k = (key.category, key.symbol, key.interval)
        now = self._clock_ms()
        newest = self._last_closed_open(key.interval, now)
        current = self._working.get(k)
        if current is None or len(current) == 0:
            start = newest - (max(size, load_limit) - 1) * interval_ms(key.interval)
            fresh = await self.get_candles(key.symbol, key.interval, start, newest, key.category)
        elif current.time[-1] >= newest:
            return current.tail(size)
        else:
            start = next_open(int(current.time[-1]), key.interval)
            try:
                fresh = Candles.concat(
                    [
                        current,
                        await self.get_candles(
                            key.symbol, key.interval, start, newest, key.category
                        ),
                    ]
                )
            except InvalidRangeError:
                fresh = current
        fresh = fresh.sorted_unique()
        self._working[k] = fresh.tail(max(size, len(current) if current is not None else 0))
        return fresh.tail(size)

    async def mtf(
        self,
        symbol: str,
        intervals: Sequence[str],
        *,
        base: str | None = None,
        aligned: bool = True,
        category: str = "linear",
        size: int = 500,
        load_limit: int = 1000,
    ) -> dict[str, Timeframe]:
        """Several timeframes at once, each with its partial edge buckets marked.

        `aligned=True` resamples every interval from `base` (default: the
        smallest requested) with the floor's alignment rules (`ohlcv.resample`);
        otherwise each interval is its own working set.
        """
        wanted = [normalize_interval(i, native_only=not aligned) for i in intervals]
        if not wanted:
            return {}
        if not aligned:
            sets = {
                i: await self.working_set(symbol, i, category, size=size, load_limit=load_limit)
                for i in wanted
            }
            return {i: Timeframe(c, False, False) for i, c in sets.items()}
        base_i = normalize_interval(base) if base else min(wanted, key=_sort_key)
        bad = [i for i in wanted if not can_resample(base_i, i)]
        if bad:
            raise InvalidRangeError(f"cannot build {', '.join(bad)} from base interval {base_i}")
        src = await self.working_set(
            symbol, base_i, category, size=load_limit, load_limit=load_limit
        )
        return {
            i: Timeframe(resample(src, i, base=base_i), *partial_edges(src, i, base=base_i))
            for i in wanted
        }


class _ChunkBuffers:
    """Fetched pages waiting to be written, grouped by the store chunk they belong to."""

    def __init__(self, span: int, interval: str, gap: Gap, max_rows: int, max_age_s: float):
        self._span = span
        self._interval = interval
        self._gap = gap
        self._max_rows = max(1, max_rows)
        self._max_age_s = max_age_s
        self._parts: dict[int, list[Candles]] = {}
        self._rows: dict[int, int] = {}
        self._born: dict[int, float] = {}

    def _needed(self, chunk: int) -> int | None:
        """Open times of the range inside the chunk; None when not countable (M)."""
        if self._interval == "M":
            return None
        step = interval_ms(self._interval)
        lo = max(self._gap.start, chunk * self._span)
        hi = min(self._gap.end, (chunk + 1) * self._span - 1)
        lo = floor_time(lo - 1, self._interval) + step  # first open time >= lo
        return max(0, (floor_time(hi, self._interval) - lo) // step + 1)

    def add(self, page: Candles) -> list[Candles]:
        """Buffer a page (ascending); return the parts that are due for writing now."""
        if len(page) == 0:
            return []
        ids = page.time // self._span
        cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        bounds = [0, *cuts.tolist(), len(page)]
        now = time.monotonic()
        for lo, hi in itertools.pairwise(bounds):
            chunk = int(ids[lo])
            self._parts.setdefault(chunk, []).append(page.take(slice(lo, hi)))
            self._rows[chunk] = self._rows.get(chunk, 0) + hi - lo
            self._born.setdefault(chunk, now)
        due = [
            c for c, n in self._rows.items()
            if n >= self._max_rows or n >= (self._needed(c) or n + 1)
            or now - self._born[c] >= self._max_age_s
        ]  # fmt: skip
        return [part for c in due for part in self._take(c)]

    def _take(self, chunk: int) -> list[Candles]:
        self._rows.pop(chunk, None)
        self._born.pop(chunk, None)
        return self._parts.pop(chunk, [])

    def drain(self) -> list[Candles]:
        """Everything still buffered."""
        return [part for c in list(self._parts) for part in self._take(c)]


def _sort_key(interval: str) -> int:
    return interval_ms(interval)


def _iso(ms: int) -> str:
    return format_minute(ms) + " UTC"
