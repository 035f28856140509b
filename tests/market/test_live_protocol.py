"""Pure parts of the live stream: ticker merging, request planning, kline parsing, events."""

from __future__ import annotations

import json

import pytest

from market._ws_protocol import (
    KlineItem,
    candle_event,
    chunk_requests,
    parse_kline_item,
    plan_connections,
    valid_interval,
    ws_url,
)
from market._ws_tickers import TickerBook
from market._ws_trades import TradeDeduper


def test_ticker_deltas_merge_into_the_snapshot_and_a_snapshot_resets() -> None:
    book = TickerBook()
    assert book.apply("linear", "BTCUSDT", "delta", {"lastPrice": "1"}) is None  # no snapshot yet
    assert book.dropped_deltas == 1
    snap = {"symbol": "BTCUSDT", "lastPrice": "100", "markPrice": "101", "fundingRate": "0.0001"}
    assert book.apply("linear", "BTCUSDT", "snapshot", snap) == snap
    merged = book.apply("linear", "BTCUSDT", "delta", {"lastPrice": "102", "bid1Price": "101.5"})
    assert merged == snap | {"lastPrice": "102", "bid1Price": "101.5"}
    assert book.apply("linear", "BTCUSDT", "snapshot", {"symbol": "BTCUSDT", "lastPrice": "9"}) == {
        "symbol": "BTCUSDT", "lastPrice": "9"}  # fmt: skip
    book.reset("linear", ["tickers.BTCUSDT", "kline.1.BTCUSDT"])
    assert book.get("linear", "BTCUSDT") is None
    with pytest.raises(ValueError, match="unknown ticker message type"):
        book.apply("linear", "BTCUSDT", "weird", {})


def test_requests_hold_at_most_ten_args_and_connections_21000_chars() -> None:
    topics = [f"kline.1.SYM{i:05d}USDT" for i in range(3000)]  # 21 chars each
    groups = plan_connections(topics)
    assert [t for g in groups for t in g] == topics
    assert all(sum(map(len, g)) <= 21_000 for g in groups) and len(groups) == 3
    chunks = chunk_requests(topics[:25])
    assert [len(c) for c in chunks] == [10, 10, 5]


def test_kline_items_parse_and_inverse_swaps_volume_and_turnover() -> None:
    raw = {"start": 1, "end": 60_000, "interval": "1", "open": "1", "high": "2", "low": "0.5",
           "close": "1.5", "volume": "10", "turnover": "15", "confirm": True, "timestamp": 5}  # fmt: skip
    item = parse_kline_item(raw, inverse=False)
    assert item == KlineItem(1, 60_000, "1", "2", "0.5", "1.5", "10", "15", True, 5)
    assert parse_kline_item(raw, inverse=True).volume == "15"
    for bad in ({**raw, "confirm": "yes"}, {**raw, "open": "x"}, {"start": 1}, [1, 2]):
        with pytest.raises(ValueError):
            parse_kline_item(bad, inverse=False)
    event = json.loads(
        candle_event("inverse", "BTCUSD", "1", item, source="rest", closed=True, ts=9)
    )
    assert event["source"] == "rest" and event["closed"] is True and event["volume"] == "10"


def test_trades_are_deduplicated_by_id() -> None:
    dedupe = TradeDeduper(keep=3)
    batch = [{"i": "1", "p": "10"}, {"i": "2", "p": "11"}]
    assert dedupe.fresh("linear", "BTCUSDT", batch) == batch
    assert dedupe.fresh("linear", "BTCUSDT", [*batch, {"i": "3"}]) == [{"i": "3"}]
    assert dedupe.duplicates == 2
    assert dedupe.fresh("linear", "ETHUSDT", batch) == batch  # ids are per symbol
    with pytest.raises(ValueError):
        dedupe.fresh("linear", "BTCUSDT", [{"p": "1"}])


def test_intervals_and_urls() -> None:
    assert valid_interval("1m") == "1" and valid_interval("1d") == "D"
    assert valid_interval("7") is None and valid_interval("nope") is None
    assert ws_url("wss://stream.bybit.com/", "spot") == "wss://stream.bybit.com/v5/public/spot"
    assert ws_url("ws://h:1/v5/public/linear", "spot") == "ws://h:1/v5/public/linear"
