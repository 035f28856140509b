"""A faithful fake of Bybit's v5 public market endpoints, as an ASGI app.

It follows the row rules of `shared/specs/bybit-v5.md` §1: rows newest first,
all strings, both bounds inclusive, a mid-interval `start` includes the candle
containing it, `start` alone anchors forward, both bounds with too many rows
keep the newest, the still-open candle is included, out-of-range is an empty
list. It enforces the IP limit (600 requests per 5 s, then HTTP 403 with a
text body for the ban period) and serves injected faults on demand, from
Python (`FakeBybit.faults.push`) or over HTTP (`POST /__fake__/faults`).

Candles come from a `CandleSource` callable, so callers can plug in any
deterministic generator (the CLI wires `engine.sample.generate_candles`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from market._fake_data import CandleSource, SeriesBook, random_walk_candles
from market._fake_faults import Fault, FaultQueue, IpWindow
from market._http import SYNTHETIC_HEADER
from market.candles import Candles
from market.intervals import BYBIT_INTERVALS, DAY_MS, floor_time

__all__ = ["FakeBybit", "FakeBybitConfig", "FakeInstrument", "Fault"]

log = logging.getLogger("market.fake_bybit")

_KLINE_CATEGORIES = {
    "/v5/market/kline": ("spot", "linear", "inverse"),
    "/v5/market/mark-price-kline": ("linear", "inverse"),
    "/v5/market/index-price-kline": ("linear", "inverse"),
    "/v5/market/premium-index-price-kline": ("linear",),
}


class FakeInstrument(BaseModel):
    """An instrument the fake lists; its history starts `history_days` before the clock."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    symbol: str
    category: Literal["spot", "linear", "inverse"] = "linear"
    base_coin: str = "BTC"
    quote_coin: str = "USDT"
    status: str = "Trading"
    history_days: float = Field(default=400.0, gt=0)
    funding_interval_min: int = 480


def _default_instruments() -> list[FakeInstrument]:
    return [
        FakeInstrument(symbol="BTCUSDT"),
        FakeInstrument(symbol="ETHUSDT", base_coin="ETH"),
        FakeInstrument(symbol="SOLUSDT", base_coin="SOL", history_days=30),
        FakeInstrument(symbol="BTCUSDT", category="spot"),
        FakeInstrument(symbol="ETHUSDT", category="spot", base_coin="ETH"),
        FakeInstrument(symbol="BTCUSD", category="inverse", quote_coin="USD"),
    ]


class FakeBybitConfig(BaseModel):
    """Behaviour of the fake, including the choices Bybit leaves undocumented."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    instruments: list[FakeInstrument] = Field(default_factory=_default_instruments)
    seed: int = 42
    ip_limit: int = Field(default=600, ge=1)
    ip_window_s: float = Field(default=5.0, gt=0)
    ban_s: float = Field(default=600.0, ge=0)
    ban_body: str = "access too frequent"
    limit_above_max: Literal["error", "clamp"] = "error"
    start_after_end: Literal["error", "empty"] = "error"
    rate_limit_headers: bool = False
    funding_order: Literal["desc", "asc"] = "desc"
    horizon_margin_ms: int = Field(default=DAY_MS, ge=0)


class _ParamError(Exception):
    pass


@dataclass(frozen=True)
class _RawResult:
    """A `result` object already encoded as JSON text (the kline fast path)."""

    text: str


Handler = Callable[[Request], "dict[str, Any] | _RawResult"]


class FakeBybit:
    """The fake server's state and its ASGI `app`.

    `clock` returns the fake's "now" in ms; by default the wall clock, which
    keeps the open candle moving like the real one.
    """

    def __init__(
        self,
        config: FakeBybitConfig | None = None,
        *,
        candle_source: CandleSource = random_walk_candles,
        clock: Callable[[], int] | None = None,
    ):
        self.config = config or FakeBybitConfig()
        self.clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        self._created = self.clock()
        self.faults = FaultQueue()
        self.window = IpWindow(self.config.ip_limit, self.config.ip_window_s, self.config.ban_s)
        self.requests: Counter[str] = Counter()
        self.book = SeriesBook(
            candle_source,
            seed=self.config.seed,
            horizon=lambda: self.clock() + self.config.horizon_margin_ms,
        )
        self.rows = RowCache()
        self.app = Starlette(routes=self._routes())

    # ---- Python control API -------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Request counts by path, bans, rejected requests, faults served."""
        return {
            "requests": sum(self.requests.values()),
            "by_path": dict(self.requests),
            "bans": self.window.bans,
            "rejected": self.window.rejected,
            "banned": self.window.banned,
            "faults_served": self.faults.served,
            "faults_pending": len(self.faults.pending()),
        }

    def reset(self) -> None:
        """Forget counters, faults and any ban."""
        self.requests.clear()
        self.faults.clear()
        self.window.lift()
        self.window.bans = self.window.rejected = 0
        self.faults.served = 0

    def first_candle_ms(self, inst: FakeInstrument) -> int:
        """Open time of the instrument's first 1-minute candle."""
        return floor_time(self._created - int(inst.history_days * DAY_MS), "1")

    def series(self, category: str, symbol: str, interval: str) -> Candles:
        """The full generated series (including candles not yet open at the clock)."""
        inst = self._instrument(category, symbol)
        return self.book.get(category, symbol, interval, self.first_candle_ms(inst))

    def warm(
        self, category: str, symbol: str, interval: str, *, kinds: tuple[str, ...] = ("kline",)
    ) -> int:
        """Generate a series and encode all of its rows now, so no request pays for it.

        Returns the number of rows encoded. Only a speed-up: answers are the same cold or warm.
        """
        series = self.series(category, symbol, interval)
        for kind in kinds:
            self.rows.page(series, (category, symbol, interval, kind), 0, len(series))
        return len(series) * len(kinds)

    # ---- routing --------------------------------------------------------------
    def _routes(self) -> list[Route]:
        market: list[tuple[str, Handler]] = [
            ("/v5/market/time", self._time),
            ("/v5/market/instruments-info", self._instruments_info),
            ("/v5/market/tickers", self._tickers),
            ("/v5/market/funding/history", self._funding),
            *((p, self._kline) for p in _KLINE_CATEGORIES),
        ]
        routes = [Route(p, self._wrap(h), methods=["GET"]) for p, h in market]
        routes += [
            Route("/__fake__/faults", self._control_faults, methods=["GET", "POST", "DELETE"]),
            Route("/__fake__/stats", self._control_stats, methods=["GET"]),
            Route("/__fake__/reset", self._control_reset, methods=["POST"]),
        ]
        return routes

    def _wrap(self, handler: Handler) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            path = request.url.path
            self.requests[path] += 1
            if not self.window.admit():
                return PlainTextResponse(self.config.ban_body, status_code=403)
            fault = self.faults.take(path)
            if fault is not None:
                if fault.kind == "delay":
                    await asyncio.sleep(fault.delay_s)
                else:
                    return self._fault_response(fault)
            try:
                result = handler(request)
            except _ParamError as exc:
                return self._envelope({}, code=10001, msg=str(exc))
            return self._envelope(result)

        return endpoint

    def _envelope(
        self, result: dict[str, Any] | _RawResult, *, code: int = 0, msg: str = "OK"
    ) -> Response:
        # Same bytes as json.dumps of the whole envelope (compact separators); the result
        # may come pre-encoded, so a 1000-row page is not re-encoded string by string.
        text = (
            result.text
            if isinstance(result, _RawResult)
            else json.dumps(result, separators=(",", ":"))
        )
        body = (
            f'{{"retCode":{code},"retMsg":{json.dumps(msg)},"result":{text},'
            f'"retExtInfo":{{}},"time":{self.clock()}}}'
        )
        headers = {SYNTHETIC_HEADER: "true"}
        if self.config.rate_limit_headers:
            headers.update(self._limit_headers(1000))
        return Response(body, media_type="application/json", headers=headers)

    def _limit_headers(self, reset_in_ms: int) -> dict[str, str]:
        return {
            "X-Bapi-Limit": str(self.config.ip_limit),
            "X-Bapi-Limit-Status": "0",
            "X-Bapi-Limit-Reset-Timestamp": str(int(time.time() * 1000) + reset_in_ms),
        }

    def _fault_response(self, fault: Fault) -> Response:
        kind = fault.kind
        if kind == "http_429":
            return PlainTextResponse("Too Many Requests", status_code=429)
        if kind == "http_403":
            return PlainTextResponse(self.config.ban_body, status_code=403)
        if kind == "http_5xx":
            return PlainTextResponse("Service Unavailable", status_code=fault.status)
        if kind == "malformed_json":
            return Response(
                '{"retCode":0,"retMsg":"OK","result":{"list":[["17', media_type="application/json"
            )
        code = int(kind.removeprefix("retcode_"))
        msg = {
            10000: "Server Timeout",
            10006: "Too many visits!",
            10016: "Server error",
            10018: "Exceeded IP rate limit",
        }[code]
        body = json.dumps(
            {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": self.clock()}
        )
        headers = self._limit_headers(fault.reset_in_ms) if code == 10006 and fault.headers else {}
        return Response(body, media_type="application/json", headers=headers)

    # ---- control endpoints ------------------------------------------------------
    async def _control_faults(self, request: Request) -> Response:
        if request.method == "POST":
            raw = await request.json()
            faults = TypeAdapter(list[Fault]).validate_python(
                raw if isinstance(raw, list) else [raw]
            )
            self.faults.push(*faults)
        elif request.method == "DELETE":
            self.faults.clear()
        return JSONResponse([f.model_dump() for f in self.faults.pending()])

    async def _control_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats())

    async def _control_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse(self.stats())

    # ---- market endpoints --------------------------------------------------------
    def _time(self, request: Request) -> dict[str, Any]:
        now = self.clock()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def _instrument(self, category: str, symbol: str | None) -> FakeInstrument:
        if not symbol:
            raise _ParamError("Missing required parameter: symbol")
        for inst in self.config.instruments:
            if inst.category == category and inst.symbol == symbol:
                return inst
        raise _ParamError("Not supported symbols")

    def _kline(self, request: Request) -> dict[str, Any] | _RawResult:
        q = request.query_params
        path = request.url.path
        category = q.get("category") or "linear"
        if category not in _KLINE_CATEGORIES[path]:
            raise _ParamError(f"Invalid category: {category}")
        inst = self._instrument(category, q.get("symbol"))
        interval = q.get("interval", "")
        if interval not in BYBIT_INTERVALS:
            raise _ParamError("Invalid period!")
        limit = self._limit(q.get("limit"), default=200, maximum=1000)
        start, end = _int_or_none(q.get("start")), _int_or_none(q.get("end"))
        if start is not None and end is not None and start > end:
            if self.config.start_after_end == "error":
                raise _ParamError("start must be less than end")
            return {"symbol": inst.symbol, "category": category, "list": []}
        series = self.book.get(category, inst.symbol, interval, self.first_candle_ms(inst))
        lo, hi = _select_range(series, interval, start, end, limit, now=self.clock())
        kind = path.rsplit("/", 1)[-1]
        rows = self.rows.page(series, (category, inst.symbol, interval, kind), lo, hi)
        head = json.dumps({"symbol": inst.symbol, "category": category}, separators=(",", ":"))
        return _RawResult(f'{head[:-1]},"list":[{rows}]}}')

    def _limit(self, raw: str | None, *, default: int, maximum: int) -> int:
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise _ParamError(f"Invalid limit: {raw}") from exc
        if value < 1 or value > maximum:
            if self.config.limit_above_max == "error":
                raise _ParamError(f"limit must be in [1, {maximum}]")
            value = max(1, min(maximum, value))
        return value

    def _instruments_info(self, request: Request) -> dict[str, Any]:
        q = request.query_params
        category = q.get("category")
        if category not in ("spot", "linear", "inverse", "option"):
            raise _ParamError("Missing or invalid category")
        status = q.get("status") or "Trading"
        rows = [
            i for i in self.config.instruments
            if i.category == category and i.status == status
            and (not q.get("symbol") or i.symbol == q.get("symbol"))
            and (not q.get("baseCoin") or i.base_coin == q.get("baseCoin"))
        ]  # fmt: skip
        rows.sort(key=lambda i: i.symbol)
        if category == "spot":  # spot ignores limit and cursor and has no cursor
            return {"category": category, "list": [self._instrument_row(i) for i in rows]}
        limit = self._limit(q.get("limit"), default=500, maximum=1000)
        cursor = q.get("cursor")
        if cursor:
            last = parse_qs(unquote(cursor)).get("last", [""])[0]
            rows = [i for i in rows if i.symbol > last]
        page, rest = rows[:limit], rows[limit:]
        next_cursor = (
            quote(f"first={page[0].symbol}&last={page[-1].symbol}", safe="")
            if page and rest
            else ""
        )
        return {
            "category": category,
            "list": [self._instrument_row(i) for i in page],
            "nextPageCursor": next_cursor,
        }

    def _instrument_row(self, inst: FakeInstrument) -> dict[str, Any]:
        row: dict[str, Any] = {
            "symbol": inst.symbol,
            "status": inst.status,
            "baseCoin": inst.base_coin,
            "quoteCoin": inst.quote_coin,
            "launchTime": str(
                self.first_candle_ms(inst) - DAY_MS
            ),  # launchTime is not the first candle
            "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
            "lotSizeFilter": {"minOrderQty": "0.001", "qtyStep": "0.001"},
        }
        if inst.category != "spot":
            row |= {"contractType": "LinearPerpetual" if inst.category == "linear" else "InversePerpetual",
                    "settleCoin": inst.quote_coin if inst.category == "linear" else inst.base_coin,
                    "deliveryTime": "0", "fundingInterval": inst.funding_interval_min}  # fmt: skip
        return row

    def _tickers(self, request: Request) -> dict[str, Any]:
        q = request.query_params
        category = q.get("category")
        if category not in ("spot", "linear", "inverse"):
            raise _ParamError("Missing or invalid category")
        symbol = q.get("symbol")
        insts = (
            [self._instrument(category, symbol)]
            if symbol
            else [
                i
                for i in self.config.instruments
                if i.category == category and i.status == "Trading"
            ]
        )
        return {"category": category, "list": [self._ticker_row(i) for i in insts]}

    def _ticker_row(self, inst: FakeInstrument) -> dict[str, Any]:
        hourly = self.book.get(inst.category, inst.symbol, "60", self.first_candle_ms(inst))
        day = hourly.between(self.clock() - DAY_MS, self.clock())
        last = float(day.close[-1]) if len(day) else 0.0
        row = {
            "symbol": inst.symbol,
            "lastPrice": str(last),
            "prevPrice24h": str(float(day.open[0]) if len(day) else last),
            "highPrice24h": str(float(day.high.max()) if len(day) else last),
            "lowPrice24h": str(float(day.low.min()) if len(day) else last),
            "volume24h": str(float(day.volume.sum())),
            "turnover24h": str(float(day.turnover.sum())),
            "bid1Price": str(last), "ask1Price": str(last), "bid1Size": "1", "ask1Size": "1",
        }  # fmt: skip
        if inst.category != "spot":
            row |= {"markPrice": str(last), "indexPrice": str(last), "fundingRate": "0.0001",
                    "fundingIntervalHour": str(inst.funding_interval_min // 60)}  # fmt: skip
        return row

    def _funding(self, request: Request) -> dict[str, Any]:
        q = request.query_params
        category = q.get("category")
        if category not in ("linear", "inverse"):
            raise _ParamError("Missing or invalid category")
        inst = self._instrument(category, q.get("symbol"))
        limit = self._limit(q.get("limit"), default=200, maximum=200)
        start, end = _int_or_none(q.get("startTime")), _int_or_none(q.get("endTime"))
        if start is not None and end is None:
            raise _ParamError("startTime and endTime must be passed together")
        step = inst.funding_interval_min * 60_000
        first = -(-self.first_candle_ms(inst) // step) * step
        last = (min(self.clock(), end if end is not None else self.clock()) // step) * step
        lo = max(first, start if start is not None else first)
        lo = -(-lo // step) * step
        times = np.arange(max(lo, last - (limit - 1) * step), last + 1, step, dtype=np.int64)
        seed = zlib.crc32(inst.symbol.encode())
        rates = 0.0001 + 0.0002 * np.sin(times / step * 0.7 + seed)
        rows = [
            {"symbol": inst.symbol, "fundingRate": f"{r:.6f}", "fundingRateTimestamp": str(int(t))}
            for t, r in zip(times.tolist(), rates.tolist(), strict=True)
        ]
        if self.config.funding_order == "desc":
            rows.reverse()
        return {"category": category, "list": rows}


def _int_or_none(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise _ParamError(f"Invalid number: {raw}") from exc


def _select_range(
    series: Candles, interval: str, start: int | None, end: int | None, limit: int, *, now: int
) -> tuple[int, int]:
    """The spec's row rules (§1): the index range [lo, hi) of the rows to serve."""
    visible_end = (
        now if end is None else min(end, now)
    )  # the open candle is visible, future ones are not
    hi = int(np.searchsorted(series.time, visible_end, side="right"))
    if start is None:
        return max(0, hi - limit), hi
    lo = int(np.searchsorted(series.time, floor_time(start, interval), side="left"))
    if end is None:
        return lo, min(hi, lo + limit)
    return (max(lo, hi - limit), hi) if hi > lo else (0, 0)


def _select(
    series: Candles, interval: str, start: int | None, end: int | None, limit: int, *, now: int
) -> Candles:
    """The spec's row rules (§1), ascending; the caller reverses to newest first."""
    lo, hi = _select_range(series, interval, start, end, limit, now=now)
    return series.take(slice(lo, hi))


RowKey = tuple[str, str, str, str]  # (category, symbol, interval, kind)


class RowCache:
    """Kline rows encoded as JSON text once, in blocks, and served as slices.

    The rows of a generated series never change (the open candle is served with
    its final values), so each block of `block` rows is encoded on first use
    (newest first, comma separated, exactly as `json.dumps` of `_format_rows`
    would write them) with the offset of every row; a page is then one or two
    string slices. A regenerated series (a new `Candles` object) drops its
    blocks. At most `max_blocks` blocks are kept, least recently used first out.
    """

    def __init__(self, *, block: int = 1024, max_blocks: int = 1024):
        self.block = block
        self.max_blocks = max_blocks
        self._blocks: OrderedDict[tuple[RowKey, int], tuple[str, list[int], list[int]]] = (
            OrderedDict()
        )
        self._series: dict[RowKey, Candles] = {}
        self._lock = threading.Lock()
        self.encoded_rows = 0

    def page(self, series: Candles, key: RowKey, lo: int, hi: int) -> str:
        """Rows [lo, hi) of `series`, newest first, as the inside of a JSON list."""
        if hi <= lo:
            return ""
        with self._lock:
            if self._series.get(key) is not series:
                for k in [k for k in self._blocks if k[0] == key]:
                    del self._blocks[k]
                self._series[key] = series
            parts: list[str] = []
            size = self.block
            for b in range((hi - 1) // size, lo // size - 1, -1):
                text, starts, ends = self._get_block(series, key, b)
                base = b * size
                top = min(base + size, len(series)) - 1  # series index of the block's first row
                a, z = max(lo, base), min(hi, base + size) - 1  # series indices, inclusive
                parts.append(text[starts[top - z] : ends[top - a]])
            return ",".join(parts)

    def _get_block(self, series: Candles, key: RowKey, b: int) -> tuple[str, list[int], list[int]]:
        found = self._blocks.get((key, b))
        if found is not None:
            self._blocks.move_to_end((key, b))
            return found
        part = series.take(slice(b * self.block, min((b + 1) * self.block, len(series))))
        rows = _encode_rows(part, key[3], key[0])
        ends = np.cumsum([len(r) + 1 for r in rows]) - 1  # +1: the comma after each row
        starts = ends - np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        found = (",".join(rows), starts.tolist(), ends.tolist())
        self._blocks[(key, b)] = found
        self.encoded_rows += len(rows)
        while len(self._blocks) > self.max_blocks:
            self._blocks.popitem(last=False)
        return found


_KLINE_ROW = '["%d","%r","%r","%r","%r","%r","%r"]'
_PRICE_ROW = '["%d","%r","%r","%r","%r"]'


def _encode_rows(c: Candles, kind: str, category: str) -> list[str]:
    """Each row of `_format_rows(c, ...)` as compact JSON text, newest first."""
    times = c.time[::-1].tolist()
    if kind == "kline":
        vol, turn = c.volume[::-1].tolist(), c.turnover[::-1].tolist()
        if category == "inverse":
            vol, turn = turn, vol
        cols = [getattr(c, name)[::-1].tolist() for name in ("open", "high", "low", "close")]
        fmt = _KLINE_ROW
        cols += [vol, turn]
    else:
        cols = _price_columns(c, kind)
        fmt = _PRICE_ROW
    return [fmt % row for row in zip(times, *cols, strict=True)]


def _price_columns(c: Candles, kind: str) -> list[list[float]]:
    """OHLC of mark, index and premium-index klines, newest first, as Python floats."""
    if kind == "premium-index-price-kline":
        # Premium ratios: small numbers around zero, derived deterministically from price.
        wave = np.sin(c.time[::-1] / 3.6e6) * 5e-4
        ohlc = [wave, wave + 1e-4, wave - 1e-4, wave + (c.close[::-1] % 7) * 1e-5]
    else:
        skew = 1.0002 if kind == "mark-price-kline" else 0.9998
        ohlc = [c.open[::-1] * skew, c.high[::-1] * skew, c.low[::-1] * skew, c.close[::-1] * skew]
    return [np.round(x, 6).tolist() for x in ohlc]


def _format_rows(c: Candles, kind: str, category: str) -> list[list[str]]:
    times = c.time[::-1].tolist()
    if kind == "kline":
        vol, turn = c.volume[::-1].tolist(), c.turnover[::-1].tolist()
        if category == "inverse":  # Bybit reports inverse volume in USD, turnover in coin
            vol, turn = turn, vol
        cols = [
            c.open[::-1].tolist(),
            c.high[::-1].tolist(),
            c.low[::-1].tolist(),
            c.close[::-1].tolist(),
            vol,
            turn,
        ]
        return [[str(t), *map(repr, vals)] for t, *vals in zip(times, *cols, strict=True)]
    cols = _price_columns(c, kind)
    return [[str(t), *map(repr, vals)] for t, *vals in zip(times, *cols, strict=True)]
