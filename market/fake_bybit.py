"""A faithful fake of Bybit's v5 public market endpoints, as an ASGI app.

It follows the row rules of `shared/specs/bybit-v5.md` §1: rows newest first,
all strings, both bounds inclusive, a mid-interval `start` includes the candle
containing it, `start` alone anchors forward, both bounds with too many rows
keep the newest, the still-open candle is included, out-of-range is an empty
list. It enforces the IP limit (600 requests per 5 s, then HTTP 403 with a
text body for the ban period) and serves injected faults on demand, from
Python (`FakeBybit.faults.push`) or over HTTP (`POST /__fake__/faults`).

Candles come from a `CandleSource` callable, so callers can plug in any
deterministic generator (the CLI wires `engine.sample.generate_candles`). It is
asked for 1-minute rows only: every interval is those rows resampled, so the
intervals agree with each other, and every price sits on the instrument's tick.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal
from urllib.parse import parse_qs, quote, unquote

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from market._fake_data import PRICE_SKEW, CandleSource, PriceGrid, SeriesBook, random_walk_candles
from market._fake_faults import Fault, FaultQueue, IpWindow
from market._fake_rows import RowCache, format_number, select_range
from market._http import SYNTHETIC_HEADER
from ohlcv import DAY_MS, INTERVALS, Candles, floor_time

__all__ = ["FakeBybit", "FakeBybitConfig", "FakeInstrument", "Fault"]

log = logging.getLogger("market.fake_bybit")

_KLINE_CATEGORIES = {
    "/v5/market/kline": ("spot", "linear", "inverse"),
    "/v5/market/mark-price-kline": ("linear", "inverse"),
    "/v5/market/index-price-kline": ("linear", "inverse"),
    "/v5/market/premium-index-price-kline": ("linear",),
}
QTY_STEP: Final = Decimal("0.001")
# Bybit caps BTCUSDT at 1999999.80 with its 0.10 tick: the same count of ticks for all.
_MAX_PRICE_TICKS: Final = 19_999_998


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
    tick_size: Decimal = Field(default=Decimal("0.10"), gt=0)  # written as Bybit does: "0.10"

    def grid(self) -> PriceGrid:
        """The decimal grid its prices, volumes and turnovers are served on."""
        return PriceGrid.of(self.tick_size, QTY_STEP)


def _default_instruments() -> list[FakeInstrument]:
    cent, milli = Decimal("0.01"), Decimal("0.001")
    return [
        FakeInstrument(symbol="BTCUSDT"),
        FakeInstrument(symbol="ETHUSDT", base_coin="ETH", tick_size=cent),
        FakeInstrument(symbol="SOLUSDT", base_coin="SOL", history_days=30, tick_size=milli),
        FakeInstrument(symbol="BTCUSDT", category="spot", tick_size=cent),
        FakeInstrument(symbol="ETHUSDT", category="spot", base_coin="ETH", tick_size=cent),
        FakeInstrument(
            symbol="BTCUSD", category="inverse", quote_coin="USD", tick_size=Decimal("0.50")
        ),
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
            clock=lambda: self.clock(),
            margin_ms=self.config.horizon_margin_ms,
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

    def lists(self, category: str, symbol: str) -> bool:
        """Whether the fake lists this instrument (the stream rejects topics of others)."""
        return any(i.category == category and i.symbol == symbol for i in self.config.instruments)

    def ticker(self, category: str, symbol: str) -> dict[str, Any]:
        """The ticker fields REST would serve now (the stream's snapshots and deltas)."""
        return self._ticker_row(self._instrument(category, symbol))

    def series(self, category: str, symbol: str, interval: str) -> Candles:
        """The full generated series (including candles not yet open at the clock)."""
        return self._series(self._instrument(category, symbol), interval)

    def _series(self, inst: FakeInstrument, interval: str, kind: str = "kline") -> Candles:
        return self.book.get(
            inst.category,
            inst.symbol,
            interval,
            first_ms=self.first_candle_ms(inst),
            grid=inst.grid(),
            kind=kind,
        )

    def warm(
        self, category: str, symbol: str, interval: str, *, kinds: tuple[str, ...] = ("kline",)
    ) -> int:
        """Generate a series and encode all of its rows now, so no request pays for it.

        Returns the number of rows encoded. Only a speed-up: answers are the same cold or warm.
        """
        inst = self._instrument(category, symbol)
        encoded = 0
        for kind in kinds:
            series = self._series(inst, interval, kind)
            self.rows.page(series, (category, symbol, interval, kind), 0, len(series))
            encoded += len(series)
        return encoded

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
        if interval not in INTERVALS:
            raise _ParamError("Invalid period!")
        limit = self._limit(q.get("limit"), default=200, maximum=1000)
        start, end = _int_or_none(q.get("start")), _int_or_none(q.get("end"))
        if start is not None and end is not None and start > end:
            if self.config.start_after_end == "error":
                raise _ParamError("start must be less than end")
            return {"symbol": inst.symbol, "category": category, "list": []}
        kind = path.rsplit("/", 1)[-1]
        series = self._series(inst, interval, kind)
        lo, hi = select_range(series, interval, start, end, limit, now=self.clock())
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
            "priceFilter": {
                "minPrice": str(inst.tick_size),
                "maxPrice": str(inst.tick_size * _MAX_PRICE_TICKS),
                "tickSize": str(inst.tick_size),
            },
            "lotSizeFilter": {"minOrderQty": str(QTY_STEP), "qtyStep": str(QTY_STEP)},
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
        now = self.clock()
        day = self._series(inst, "1").between(now - DAY_MS, now)
        grid = inst.grid()
        last = float(day.close[-1]) if len(day) else 0.0
        prices = {
            "lastPrice": last,
            "prevPrice24h": float(day.open[0]) if len(day) else last,
            "highPrice24h": float(day.high.max()) if len(day) else last,
            "lowPrice24h": float(day.low.min()) if len(day) else last,
            "bid1Price": last,
            "ask1Price": last,
        }
        if inst.category != "spot":  # where the mark and index klines close
            prices["markPrice"] = last * PRICE_SKEW["mark-price-kline"]
            prices["indexPrice"] = last * PRICE_SKEW["index-price-kline"]
        on_tick = grid.snap(np.array(list(prices.values()))).tolist()
        # Tickers, unlike klines, keep the tick's written digits: "0.50" -> "16597.00".
        row = {"symbol": inst.symbol} | {
            k: f"{v:.{grid.text_places}f}" for k, v in zip(prices, on_tick, strict=True)
        }
        row |= {
            "volume24h": format_number(round(float(day.volume.sum()), grid.volume_places)),
            "turnover24h": format_number(round(float(day.turnover.sum()), grid.turnover_places)),
            "bid1Size": "1", "ask1Size": "1",
        }  # fmt: skip
        if inst.category != "spot":
            row |= {
                "fundingRate": "0.0001",
                "fundingIntervalHour": str(inst.funding_interval_min // 60),
            }
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
