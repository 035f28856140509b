"""Async Bybit v5 public market-data client over an injected `httpx.AsyncClient`.

Range fetches follow the spec's backward pagination: ask for `end` with
`limit=1000` and no `start`, reverse the newest-first rows, drop the still-open
candle, de-duplicate by open time, step to `oldest - 1` and stop on an empty
page or once the oldest row reaches the requested start. The range is split
into windows walked concurrently, all drawing from one token bucket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from market._http import ClientConfig, Requester, Sleep
from market._limiter import RateLimiter
from market.errors import (
    ContinuityError,
    InvalidRangeError,
    InvalidRequestError,
    MalformedResponseError,
    UnknownIntervalError,
    UnknownSymbolError,
)
from ohlcv import (
    INTERVALS,
    Candles,
    floor_time,
    interval_ms,
    next_open,
    next_opens,
    normalize_interval,
)

__all__ = [
    "BybitClient",
    "Category",
    "FetchProgress",
    "FundingRate",
    "Gap",
    "Instrument",
    "KlineKind",
    "Ticker",
]

log = logging.getLogger("market.bybit")

Category = Literal["spot", "linear", "inverse"]
KlineKind = Literal["trade", "mark", "index", "premium"]
_KLINE_PATHS: dict[str, str] = {
    "trade": "/v5/market/kline",
    "mark": "/v5/market/mark-price-kline",
    "index": "/v5/market/index-price-kline",
    "premium": "/v5/market/premium-index-price-kline",
}


class Instrument(BaseModel):
    """One row of instruments-info (the fields we use; the rest is ignored)."""

    model_config = ConfigDict(extra="ignore")
    symbol: str
    status: str = ""
    baseCoin: str = ""
    quoteCoin: str = ""
    launchTime: int | None = None
    fundingInterval: int | None = None


class Ticker(BaseModel):
    """One row of tickers, prices as floats."""

    model_config = ConfigDict(extra="ignore")
    symbol: str
    lastPrice: float
    highPrice24h: float | None = None
    lowPrice24h: float | None = None
    volume24h: float | None = None
    turnover24h: float | None = None
    markPrice: float | None = None
    indexPrice: float | None = None
    fundingRate: float | None = None


class FundingRate(BaseModel):
    """One funding-rate record."""

    symbol: str
    fundingRate: float
    fundingRateTimestamp: int


@dataclass(frozen=True)
class Gap:
    """Missing candles: every open time in [start, end] is absent (both inclusive)."""

    start: int
    end: int


@dataclass
class FetchProgress:
    """Live counters of a range fetch; handed to the progress callback after every page."""

    expected: int
    candles: int = 0
    requests: int = 0
    retries: int = 0
    gaps: list[Gap] = field(default_factory=list)
    reached_first_candle: bool = False
    started: float = field(default_factory=time.monotonic)


@dataclass
class _Window:
    start: int
    end: int


PageSink = Callable[[Candles], Any]
ProgressSink = Callable[[FetchProgress], Any]


class BybitClient:
    """Bybit v5 public market data. The `httpx.AsyncClient` is injected and not closed here."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: ClientConfig | None = None,
        *,
        limiter: RateLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
    ):
        self.config = config or ClientConfig()
        self._req = Requester(http, self.config, limiter=limiter, sleep=sleep)
        self._symbols: dict[tuple[str, str], Instrument] = {}

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self._req.requests

    @property
    def retries(self) -> int:
        """Retries performed so far."""
        return self._req.retries

    @property
    def synthetic(self) -> bool:
        """True once a response came from a server marking its data synthetic (our fake Bybit)."""
        return self._req.synthetic

    async def server_time_ms(self) -> int:
        """Bybit's clock in ms."""
        result = await self._req.get("/v5/market/time", {})
        try:
            return int(result["timeNano"]) // 1_000_000
        except (KeyError, ValueError) as exc:
            raise MalformedResponseError("time: no timeNano in result") from exc

    async def instruments(
        self,
        category: str,
        *,
        symbol: str | None = None,
        status: str | None = None,
        page_size: int = 1000,
    ) -> list[Instrument]:
        """All instruments of a category, following `nextPageCursor` to the end."""
        rows: list[Instrument] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            params = {
                "category": category,
                "symbol": symbol,
                "status": status,
                "limit": page_size,
                "cursor": cursor,
            }
            result = await self._req.get("/v5/market/instruments-info", params)
            rows.extend(Instrument.model_validate(r) for r in result.get("list") or [])
            cursor = result.get("nextPageCursor") or None
            if cursor is None or cursor in seen or not result.get("list"):
                return rows
            seen.add(cursor)

    async def tickers(self, category: str, symbol: str | None = None) -> list[Ticker]:
        """Latest tickers of a category (or one symbol)."""
        result = await self._req.get("/v5/market/tickers", {"category": category, "symbol": symbol})
        return [Ticker.model_validate(r) for r in result.get("list") or []]

    async def funding_history(
        self,
        symbol: str,
        *,
        category: str = "linear",
        start: int | None = None,
        end: int | None = None,
    ) -> list[FundingRate]:
        """Funding rates ascending by time; pages backwards with endTime = oldest - 1."""
        out: dict[int, FundingRate] = {}
        cur_end = end if end is not None else await self.server_time_ms()
        while True:
            params = {"category": category, "symbol": symbol, "endTime": cur_end, "limit": 200}
            result = await self._req.get("/v5/market/funding/history", params)
            page = [FundingRate.model_validate(r) for r in result.get("list") or []]
            page = [r for r in page if r.fundingRateTimestamp <= cur_end]
            if not page:
                break
            for r in page:
                out[r.fundingRateTimestamp] = r
            oldest = min(r.fundingRateTimestamp for r in page)
            if start is None or oldest <= start:
                break
            cur_end = oldest - 1
        rows = sorted(out.values(), key=lambda r: r.fundingRateTimestamp)
        return [r for r in rows if start is None or r.fundingRateTimestamp >= start]

    async def get_klines(
        self,
        symbol: str,
        interval: str,
        *,
        category: str = "linear",
        start: int | None = None,
        end: int | None = None,
        limit: int = 1000,
        kind: KlineKind = "trade",
    ) -> Candles:
        """One kline request, rows ascending and de-duplicated (the open candle included)."""
        interval = normalize_interval(interval)
        params = {
            "category": category,
            "symbol": symbol,
            "interval": interval,
            "start": start,
            "end": end,
            "limit": max(1, min(1000, limit)),  # Bybit's behaviour above 1000 is undocumented
        }
        try:
            result = await self._req.get(_KLINE_PATHS[kind], params)
        except InvalidRequestError as exc:
            raise await self._explain_10001(exc, symbol, interval, category) from exc
        return _parse_rows(result.get("list"), inverse=category == "inverse")

    async def _explain_10001(
        self, exc: InvalidRequestError, symbol: str, interval: str, category: str
    ) -> InvalidRequestError:
        text = str(exc).lower()
        if exc.ret_code == 10001 and "period" in text:
            return UnknownIntervalError(interval, INTERVALS)
        if exc.ret_code in (10001, 170121) and "symbol" in text:
            try:
                valid = [i.symbol for i in await self.instruments(category)]
            except Exception:  # the hint is best effort; the error is what matters
                valid = []
            return UnknownSymbolError(symbol, category, sorted(valid))
        return exc

    async def validate_symbol(self, symbol: str, category: str = "linear") -> Instrument:
        """Check the symbol against instruments-info (the spec's step 1), cached per client."""
        key = (category, symbol)
        if key in self._symbols:
            return self._symbols[key]
        rows = await self.instruments(category, symbol=symbol)
        match = [r for r in rows if r.symbol == symbol]
        if not match:
            valid = sorted(i.symbol for i in await self.instruments(category))
            raise UnknownSymbolError(symbol, category, valid)
        self._symbols[key] = match[0]
        return match[0]

    async def fetch_candles(
        self,
        symbol: str,
        interval: str,
        start: int,
        end: int | None = None,
        *,
        category: str = "linear",
        kind: KlineKind = "trade",
        on_page: PageSink | None = None,
        on_progress: ProgressSink | None = None,
        strict: bool = False,
        validate: bool = True,
    ) -> tuple[Candles, FetchProgress]:
        """Every closed candle with open time in [floor(start), end], ascending, no duplicates.

        `on_page` receives each page (closed candles only, inside the range) as
        soon as it arrives, so a caller can persist progress; `on_progress`
        receives the counters. Holes the exchange has are reported in
        `FetchProgress.gaps` (or raise `ContinuityError` when `strict`).
        """
        interval = normalize_interval(interval)
        if validate:
            await self.validate_symbol(symbol, category)
        now = await self.server_time_ms()
        end = now if end is None else min(end, now)
        start = floor_time(start, interval)
        if start > end:
            raise InvalidRangeError(f"start {start} is after end {end}")
        windows = _split(start, end, interval, self.config.page_limit, self.config.concurrency)
        progress = FetchProgress(expected=_expected(start, end, interval))
        pages: list[Candles] = []
        req0, retry0 = self._req.requests, self._req.retries

        def deliver(page: Candles) -> None:
            pages.append(page)
            progress.candles += len(page)
            progress.requests = self._req.requests - req0
            progress.retries = self._req.retries - retry0
            if on_page is not None:
                on_page(page)
            if on_progress is not None:
                on_progress(progress)

        ctx = _WalkContext(symbol, interval, category, kind, now, strict, progress, deliver)
        await _run_all([self._walk(ctx, w) for w in windows])
        progress.requests = self._req.requests - req0
        progress.retries = self._req.retries - retry0
        progress.gaps.sort(key=lambda g: g.start)
        return Candles.concat(pages).sorted_unique(), progress

    async def _walk(self, ctx: _WalkContext, window: _Window) -> None:
        cur_end = window.end
        newer_oldest: int | None = None  # oldest open time of the previous (newer) page
        while True:
            page = await self.get_klines(
                ctx.symbol, ctx.interval, category=ctx.category, end=cur_end,
                limit=self.config.page_limit, kind=ctx.kind,
            )  # fmt: skip
            page = page.between(None, cur_end)
            if len(page) == 0:
                # end-only requests return the newest rows <= end, so an empty page
                # means the exchange has nothing at or before cur_end.
                ctx.progress.reached_first_candle = True
                break
            raw_oldest = int(page.time[0])
            page = page.take(next_opens(page.time, ctx.interval) <= ctx.now)  # drop the open candle
            if len(page) == 0:
                cur_end = raw_oldest - 1
                continue
            self._check_continuity(ctx, page, newer_oldest)
            ctx.deliver(page.between(window.start, None))
            oldest = int(page.time[0])
            if oldest <= window.start:
                break
            newer_oldest = oldest
            cur_end = oldest - 1

    @staticmethod
    def _check_continuity(ctx: _WalkContext, page: Candles, newer_oldest: int | None) -> None:
        t = page.time
        expected_next = next_opens(t[:-1], ctx.interval)
        holes = np.nonzero(t[1:] != expected_next)[0]
        found = [Gap(int(expected_next[i]), int(t[i + 1]) - 1) for i in holes]
        if newer_oldest is not None:
            after = next_open(int(t[-1]), ctx.interval)
            if after != newer_oldest:
                found.append(Gap(after, newer_oldest - 1))
        if not found:
            return
        msg = (
            f"{ctx.symbol} {ctx.interval}: exchange data has {len(found)} gap(s), first {found[0]}"
        )
        if ctx.strict:
            raise ContinuityError(msg)
        log.warning(msg)
        ctx.progress.gaps.extend(found)


@dataclass
class _WalkContext:
    symbol: str
    interval: str
    category: str
    kind: KlineKind
    now: int
    strict: bool
    progress: FetchProgress
    deliver: Callable[[Candles], None]


async def _run_all(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run the window walks; the first failure cancels the others and is raised as is."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        _done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]


def _rows_to_array(rows: Any) -> npt.NDArray[np.float64]:
    """A page's rows (lists of numeric strings) as one 2-D float64 array.

    Fast path: Arrow builds one string column from the nested lists and casts it
    to float64 in a single vectorised pass (about 3x faster than numpy parsing
    7,000 Python strings). Anything it does not take (numbers instead of
    strings, ragged rows, junk) goes through numpy, which decides what is malformed.
    """
    if isinstance(rows, list) and isinstance(rows[0], list) and rows[0]:
        width = len(rows[0])
        try:
            nested = pa.array(rows, type=pa.list_(pa.string()))
            flat = nested.flatten()
            if nested.null_count == 0 and len(flat) == width * len(rows):
                lengths = pc.list_value_length(nested)
                if pc.min(lengths).as_py() == width:
                    values = pc.cast(flat, pa.float64()).to_numpy(zero_copy_only=False)
                    return values.reshape(len(rows), width)
        except (pa.ArrowException, TypeError, ValueError):
            pass
    try:
        return np.array(rows, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise MalformedResponseError(f"kline rows are not numeric: {str(rows)[:120]}") from exc


def _parse_rows(rows: Any, *, inverse: bool) -> Candles:
    if not rows:
        return Candles.empty()
    arr = _rows_to_array(rows)
    if arr.ndim != 2 or arr.shape[1] not in (5, 7):
        raise MalformedResponseError(f"kline rows have shape {arr.shape}")
    arr = arr[::-1]  # Bybit sends newest first
    nan = np.full(len(arr), np.nan)
    vol, turn = (arr[:, 5], arr[:, 6]) if arr.shape[1] == 7 else (nan, nan)
    if inverse:
        # Inverse contracts report volume in USD and turnover in the coin: swap to keep
        # "volume = base coin" everywhere.
        vol, turn = turn, vol
    o, h, lo, c = (np.ascontiguousarray(arr[:, i]) for i in range(1, 5))
    candles = Candles(
        arr[:, 0].astype(np.int64),
        o,
        h,
        lo,
        c,
        np.ascontiguousarray(vol),
        np.ascontiguousarray(turn),
    )
    return candles.sorted_unique()


def _expected(start: int, end: int, interval: str) -> int:
    if end < start:
        return 0
    if interval == "M":
        months = (
            np.array([start, end], dtype="datetime64[ms]").astype("datetime64[M]").astype(np.int64)
        )
        return int(months[1] - months[0]) + 1
    return (floor_time(end, interval) - start) // interval_ms(interval) + 1


def _split(start: int, end: int, interval: str, page: int, concurrency: int) -> Sequence[_Window]:
    """Windows of whole pages, aligned from `end` backwards so each walk ends on its start."""
    if interval == "M":
        return [_Window(start, end)]
    step = interval_ms(interval)
    last = floor_time(end, interval)
    n = (last - start) // step + 1
    pages = -(-n // page)
    per = -(-pages // concurrency)
    span = per * page * step
    out: list[_Window] = []
    w_end = end
    w_last = last
    while w_last >= start:
        w_start = max(start, w_last - span + step)
        out.append(_Window(w_start, w_end))
        w_last = w_start - step
        w_end = w_last
    return out
