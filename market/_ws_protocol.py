"""Bybit v5 public WebSocket: topic names, request planning, message shapes and the
events we publish. Pure functions, no I/O (shared/specs/bybit-ws.md §1-§4, §8.3)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from market._ws_trades import trade_channel
from ohlcv import INTERVALS, normalize_interval

__all__ = [
    "MAINNET_WS_URL",
    "MAX_ARGS_CHARS",
    "MAX_ARGS_PER_REQUEST",
    "TICKS_CHANNEL",
    "Category",
    "KlineItem",
    "TopicSpec",
    "candle_channel",
    "candle_event",
    "channel_names",
    "chunk_requests",
    "kline_topic",
    "parse_kline_item",
    "plan_connections",
    "ticker_channel",
    "ticker_event",
    "ticker_topic",
    "ws_url",
]

Category = Literal["spot", "linear", "inverse"]
MAINNET_WS_URL: Final = "wss://stream.bybit.com"
TICKS_CHANNEL: Final = "bybit:ticks"
MAX_ARGS_PER_REQUEST: Final = 10  # spot's documented limit; we keep it for every category
MAX_ARGS_CHARS: Final = 21_000  # per connection, every category


class TopicSpec(BaseModel):
    """What to stream for one symbol: its kline intervals and, optionally, its ticker."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    category: Category = "linear"
    symbol: str
    intervals: tuple[str, ...] = ("1",)
    tickers: bool = True
    trades: bool = False  # publicTrade.{symbol}, published on bybit:trade:{category}:{symbol}

    @field_validator("symbol")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()


def kline_topic(symbol: str, interval: str) -> str:
    return f"kline.{interval}.{symbol}"


def ticker_topic(symbol: str) -> str:
    return f"tickers.{symbol}"


def candle_channel(category: str, symbol: str, interval: str) -> str:
    """Redis / relay channel of one candle stream."""
    return f"bybit:candle:{category}:{symbol}:{interval}"


def ticker_channel(category: str, symbol: str) -> str:
    """Redis / relay channel of one ticker stream."""
    return f"bybit:ticker:{category}:{symbol}"


def channel_names(
    category: str, symbols: Iterable[str], intervals: Iterable[str], *, trades: bool = False
) -> list[str]:
    """Every channel a stream of these symbols and intervals publishes on, `bybit:ticks` first
    (with `trades`, each symbol's `bybit:trade:{category}:{symbol}` too).

    Intervals are normalised ("1m" -> "1"); an unknown one raises `ohlcv.UnknownIntervalError`.
    """
    ivs = [normalize_interval(i) for i in intervals]
    out = [TICKS_CHANNEL]
    for sym in symbols:
        s = sym.strip().upper()
        out += [candle_channel(category, s, iv) for iv in ivs]
        out.append(ticker_channel(category, s))
        if trades:
            out.append(trade_channel(category, s))
    return list(dict.fromkeys(out))


def ws_url(base: str, category: str) -> str:
    """`wss://host` -> `wss://host/v5/public/{category}`; a URL already ending in a path is kept."""
    base = base.rstrip("/")
    if "/v5/public/" in base:
        return base
    return f"{base}/v5/public/{category}"


def plan_connections(topics: Sequence[str], max_chars: int = MAX_ARGS_CHARS) -> list[list[str]]:
    """Topics grouped so that the args of each connection total at most `max_chars` characters."""
    groups: list[list[str]] = []
    size = max_chars + 1
    for topic in topics:
        if size + len(topic) > max_chars:
            groups.append([])
            size = 0
        groups[-1].append(topic)
        size += len(topic)
    return groups


def chunk_requests(
    topics: Sequence[str], per_request: int = MAX_ARGS_PER_REQUEST
) -> list[list[str]]:
    """Subscribe requests of at most `per_request` args each."""
    return [list(topics[i : i + per_request]) for i in range(0, len(topics), per_request)]


@dataclass(frozen=True)
class KlineItem:
    """One element of a kline message's `data`, numbers still as Bybit wrote them."""

    start: int
    end: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    turnover: str
    confirm: bool
    timestamp: int

    @classmethod
    def of(
        cls, start: int, end: int, values: Sequence[str], *, confirm: bool, timestamp: int
    ) -> KlineItem:
        """From open, high, low, close, volume and turnover in that order."""
        o, h, lo, c, vol, turn = values
        return cls(start, end, o, h, lo, c, vol, turn, confirm, timestamp)

    def values(self) -> tuple[str, str, str, str, str, str]:
        return (self.open, self.high, self.low, self.close, self.volume, self.turnover)


def parse_kline_item(raw: Any, *, inverse: bool) -> KlineItem:
    """A kline `data` element; raises ValueError when its shape is not Bybit's.

    Inverse klines carry volume in USD and turnover in coin (as REST does): swapped
    here so that volume is the base coin everywhere, as the REST client stores it.
    """
    if not isinstance(raw, Mapping):
        raise ValueError("kline item is not an object")
    try:
        prices = [str(raw[k]) for k in ("open", "high", "low", "close", "volume", "turnover")]
        for p in prices:
            float(p)
        start, end = int(raw["start"]), int(raw["end"])
        confirm = raw["confirm"]
        stamp = int(raw.get("timestamp", 0) or 0)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"kline item is malformed: {exc}") from exc
    if not isinstance(confirm, bool):
        raise ValueError("kline confirm is not a boolean")
    if inverse:
        prices[4], prices[5] = prices[5], prices[4]
    return KlineItem.of(start, end, prices, confirm=confirm, timestamp=stamp)


_PRICE_FIELDS: Final = ("open", "high", "low", "close", "volume", "turnover")


def candle_event(
    category: str,
    symbol: str,
    interval: str,
    item: KlineItem,
    *,
    source: Literal["ws", "rest"],
    closed: bool,
    ts: int,
) -> str:
    """The versioned candle envelope (spec §8.3) as compact JSON text:
    v, kind, source, category, symbol, interval, start, end, open, high, low, close,
    volume, turnover (numbers as strings, as Bybit writes them), closed, ts."""
    event: dict[str, Any] = {
        "v": 1, "kind": "candle", "source": source, "category": category, "symbol": symbol,
        "interval": interval, "start": item.start, "end": item.end,
    }  # fmt: skip
    event.update(zip(_PRICE_FIELDS, item.values(), strict=True))
    event.update(closed=closed, ts=ts)
    return json.dumps(event, separators=(",", ":"))


def ticker_event(category: str, symbol: str, data: Mapping[str, Any], ts: int) -> str:
    """The versioned ticker envelope: the merged snapshot of every field seen so far."""
    event = {
        "v": 1,
        "kind": "ticker",
        "category": category,
        "symbol": symbol,
        "data": dict(data),
        "ts": ts,
    }
    return json.dumps(event, separators=(",", ":"))


def valid_interval(interval: str) -> str | None:
    """The Bybit id of an interval ("1m" -> "1"), or None when Bybit has no such stream."""
    try:
        iv = normalize_interval(interval)
    except Exception:
        return None
    return iv if iv in INTERVALS else None


def request(op: str, req_id: str, args: Sequence[str] | None = None) -> str:
    """A client frame: subscribe / unsubscribe / ping."""
    body: dict[str, Any] = {"req_id": req_id, "op": op}
    if args is not None:
        body["args"] = list(args)
    return json.dumps(body, separators=(",", ":"))


def is_pong(msg: Mapping[str, Any]) -> bool:
    """Pongs differ per category; pybit and ccxt both look at `op` or `ret_msg`."""
    return msg.get("op") == "pong" or msg.get("ret_msg") == "pong"
