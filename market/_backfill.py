"""What a backfill left behind: candles stored in the range, candles still missing, and one
sentence saying which, so a partial fetch is never reported as a finished one."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from market.bybit import Gap
from market.errors import MarketError
from market.store import CandleStore, DatasetKey
from ohlcv import floor_time, format_minute, interval_ms

__all__ = ["BackfillReport", "account", "opens_between"]


@dataclass
class BackfillReport:
    """What a fill did (ranges fetched, candles written, requests, exchange gaps) and, after
    `MarketData.backfill`, what the range holds now: `stored` candles from `first` to
    `last`, `missing` candles neither stored nor known to be absent on the exchange, the
    `error` that stopped it (if any) and a `note` in words."""

    key: DatasetKey
    ranges: list[Gap] = field(default_factory=list)
    fetched: int = 0
    added: int = 0
    requests: int = 0
    gaps: list[Gap] = field(default_factory=list)
    reached_first_candle: bool = False
    stored: int = 0
    first: int | None = None
    last: int | None = None
    missing: int = 0
    error: MarketError | None = None
    note: str = ""

    @property
    def complete(self) -> bool:
        """True when every candle the exchange has in the range is stored."""
        return self.missing == 0


def opens_between(start: int, end: int, interval: str) -> int:
    """How many bars of `interval` open in [start, end] (both inclusive, any ms bounds)."""
    if end < start:
        return 0
    if interval == "M":
        lo, hi = np.array([start - 1, end], dtype="datetime64[ms]").astype("datetime64[M]")
        return max(0, int((hi - lo).astype(np.int64)))
    step = interval_ms(interval)
    first = floor_time(start - 1, interval) + step  # the first open time >= start
    return max(0, (floor_time(end, interval) - first) // step + 1)


def account(store: CandleStore, report: BackfillReport, start: int, end: int) -> None:
    """Fill in what [start, end] holds now and the note; reads the store (call in a thread)."""
    key = report.key
    times = store.load(key, start, end).time
    holes = store.missing(key, start, end)
    report.stored = len(times)
    report.first = int(times[0]) if len(times) else None
    report.last = int(times[-1]) if len(times) else None
    report.missing = sum(opens_between(g.start, g.end, key.interval) for g in holes)
    report.note = _note(report, start, holes)


def _note(report: BackfillReport, start: int, holes: list[Gap]) -> str:
    held = f"{report.stored:,} candles stored" + (
        f" ({_t(report.first)} .. {_t(report.last)})" if report.first is not None else ""
    )
    if report.error is not None:
        return (
            f"incomplete: stopped by '{report.error}'; {held}, {report.missing:,} missing "
            f"(first gap from {_t(holes[0].start)}); calling again resumes where it stopped"
            if holes
            else f"complete: {held} (the exchange then failed: '{report.error}')"
        )
    if report.missing:
        return (
            f"incomplete: {held}, {report.missing:,} missing (first gap from "
            f"{_t(holes[0].start)}); calling again fetches only what is missing"
        )
    if report.first is None:
        return "complete: the exchange has no candles in this range (before the first one?)"
    if report.first is not None and report.first > floor_time(start, report.key.interval):
        return f"complete: {held}; the exchange has no candles before {_t(report.first)}"
    return f"complete: {held}"


def _t(ms: int | None) -> str:
    return "-" if ms is None else format_minute(ms)
