"""Every interval of the fake comes from one 1-minute series, on the instrument's tick grid."""

from __future__ import annotations

from decimal import Decimal

import httpx
import numpy as np
import pytest
from market_testkit import DAY, NOW, MakeServer

from market import CandleSource, FakeBybitConfig, FakeInstrument, random_walk_candles
from ohlcv import INTERVALS, Candles, floor_time, floor_times, resample

KLINE_PATHS = (
    "/v5/market/kline",
    "/v5/market/mark-price-kline",
    "/v5/market/index-price-kline",
    "/v5/market/premium-index-price-kline",
)
WEEK = 7 * DAY


def get(url: str, path: str, **params: object) -> dict:
    r = httpx.get(url + path, params={k: str(v) for k, v in params.items()}, timeout=30)
    assert r.status_code == 200, r.text[:200]
    body = r.json()
    assert body["retCode"] == 0, body
    return body


def rows_between(url: str, path: str, interval: str, start: int, end: int) -> list[list[str]]:
    """All rows with floor(start) <= open <= end, ascending (paged backwards like the client)."""
    out: list[list[str]] = []
    while True:
        page = get(url, path, symbol="BTCUSDT", interval=interval, start=start, end=end, limit=1000)
        rows = page["result"]["list"]
        out = rows[::-1] + out
        if len(rows) < 1000:
            return out
        end = int(rows[-1][0]) - 1


def as_candles(rows: list[list[str]]) -> Candles:
    cols = np.array(rows, dtype=float).T
    names = ("time", "open", "high", "low", "close", "volume", "turnover")
    data = dict(zip(names, cols, strict=True))
    return Candles.from_arrays(data | {"time": cols[0].astype(np.int64)})


def minute_only(
    n_bars: int, *, interval_minutes: int = 1, start_ms: int, seed: int = 42, symbol: str = "X"
) -> dict[str, np.ndarray]:
    """A source that, like the engine's generator before it learnt D and W, knows minutes only."""
    if interval_minutes != 1:
        raise ValueError(f"unsupported interval_minutes={interval_minutes}")
    return random_walk_candles(n_bars, start_ms=start_ms, seed=seed, symbol=symbol)


def engine_source() -> CandleSource:
    sample = pytest.importorskip("engine.sample")
    source: CandleSource = sample.generate_candles
    return source


def one_symbol(days: float) -> FakeBybitConfig:
    return FakeBybitConfig(instruments=[FakeInstrument(symbol="BTCUSDT", history_days=days)])


def assert_aligned(times: list[int], interval: str) -> None:
    t = np.array(times, dtype=np.int64)
    assert len(t) and np.array_equal(floor_times(t, interval), t), (interval, t[:3])
    assert np.all(np.diff(t) < 0)  # newest first


@pytest.mark.parametrize("path", KLINE_PATHS)
def test_every_interval_is_served_from_one_minute_source(make_server: MakeServer, path: str):
    srv = make_server(one_symbol(70), source=minute_only)
    for interval in INTERVALS:
        rows = get(srv.url, path, symbol="BTCUSDT", interval=interval)["result"]["list"]
        assert_aligned([int(r[0]) for r in rows], interval)


def test_engine_sample_source_serves_d_w_m_on_every_kline_endpoint(make_server: MakeServer):
    srv = make_server(one_symbol(70), source=engine_source())  # what `--source fake` wires
    for path in KLINE_PATHS:
        for interval in ("D", "W", "M"):
            rows = get(srv.url, path, symbol="BTCUSDT", interval=interval)["result"]["list"]
            assert_aligned([int(r[0]) for r in rows], interval)
            assert int(rows[0][0]) == floor_time(NOW, interval)  # the open candle is served


def _pairs() -> list[tuple[str, str, int, int]]:
    day0 = floor_time(NOW, "D")
    monday = floor_time(NOW, "W")
    months = floor_time(
        NOW - 50 * DAY, "M"
    )  # a part month at the history's start, then a whole one
    return [
        ("1", "15", day0 - 3 * DAY, day0 - DAY - 1),
        ("60", "240", day0 - 5 * DAY, day0 - 1),
        ("D", "W", monday - 4 * WEEK, monday - 1),
        ("D", "M", months, floor_time(NOW, "M") - 1),
        ("1", "D", day0 - 2 * DAY, day0 - 1),
    ]


@pytest.mark.parametrize("source_name", ["random_walk", "engine"])
@pytest.mark.parametrize(("base", "target", "start", "end"), _pairs())
def test_interval_is_its_base_interval_resampled(
    make_server: MakeServer, source_name: str, base: str, target: str, start: int, end: int
):
    source = random_walk_candles if source_name == "random_walk" else engine_source()
    srv = make_server(one_symbol(50), source=source)
    small = as_candles(rows_between(srv.url, "/v5/market/kline", base, start, end))
    big = as_candles(rows_between(srv.url, "/v5/market/kline", target, start, end))
    want = resample(small, target, base=base)
    assert len(big) >= 2 and np.array_equal(want.time, big.time)
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(getattr(want, col), getattr(big, col)), col
    for col in ("volume", "turnover"):  # sums of decimals: equal up to the printed digits
        assert np.allclose(getattr(want, col), getattr(big, col), rtol=1e-12, atol=1e-6), col


@pytest.mark.parametrize("path", KLINE_PATHS[1:])
def test_price_klines_agree_across_intervals(make_server: MakeServer, path: str):
    srv = make_server(one_symbol(10))
    start, end = floor_time(NOW, "D") - 3 * DAY, floor_time(NOW, "D") - 1
    hourly = as_candles([[*r, "0", "0"] for r in rows_between(srv.url, path, "60", start, end)])
    four = as_candles([[*r, "0", "0"] for r in rows_between(srv.url, path, "240", start, end)])
    want = resample(hourly, "240", base="60")
    for col in ("time", "open", "high", "low", "close"):
        assert np.array_equal(getattr(want, col), getattr(four, col)), col


def decimals(text: str) -> int:
    return len(text.partition(".")[2])


def assert_on_tick(prices: list[str], tick: Decimal, *, max_decimals: int) -> None:
    for p in prices:
        assert "e" not in p.lower() and decimals(p) <= max_decimals, (p, tick)
        assert Decimal(p) % tick == 0, (p, tick)


def tick_sizes(url: str) -> dict[tuple[str, str], str]:
    out = {}
    for category in ("linear", "spot", "inverse"):
        for row in get(url, "/v5/market/instruments-info", category=category)["result"]["list"]:
            out[(category, row["symbol"])] = row["priceFilter"]["tickSize"]
    return out


PATHS_BY_CATEGORY = {
    "linear": KLINE_PATHS[:3],
    "inverse": KLINE_PATHS[:3],
    "spot": KLINE_PATHS[:1],
}


@pytest.mark.parametrize("source_name", ["random_walk", "engine"])
def test_kline_prices_are_multiples_of_the_tick(make_server: MakeServer, source_name: str):
    source = random_walk_candles if source_name == "random_walk" else engine_source()
    insts = [i.model_copy(update={"history_days": 40}) for i in FakeBybitConfig().instruments]
    srv = make_server(FakeBybitConfig(instruments=insts), source=source)
    ticks = tick_sizes(srv.url)
    assert ticks[("linear", "BTCUSDT")] == "0.10" and ticks[("linear", "ETHUSDT")] == "0.01"
    assert ticks[("linear", "SOLUSDT")] == "0.001"
    for (category, symbol), tick_text in ticks.items():
        tick = Decimal(tick_text)
        places = max(0, -tick.normalize().as_tuple().exponent)  # "0.10" allows 1 decimal
        for path in PATHS_BY_CATEGORY[category]:
            for interval in ("1", "15", "60", "D", "W", "M"):
                body = get(srv.url, path, category=category, symbol=symbol, interval=interval)
                rows = body["result"]["list"]
                assert rows, (category, symbol, path, interval)
                prices = [p for r in rows for p in r[1:5]]
                assert_on_tick(prices, tick, max_decimals=places)


def test_volume_and_turnover_print_without_float_noise(make_server: MakeServer):
    srv = make_server(one_symbol(40), source=engine_source())
    for interval in ("1", "60", "D", "W", "M"):
        rows = get(srv.url, "/v5/market/kline", symbol="BTCUSDT", interval=interval)["result"]
        for r in rows["list"]:
            assert decimals(r[5]) <= 3 and decimals(r[6]) <= 4, (interval, r)  # qtyStep 0.001


def test_premium_index_prints_six_decimals(make_server: MakeServer):
    srv = make_server(one_symbol(10))
    for interval in ("1", "60", "D"):
        path = "/v5/market/premium-index-price-kline"
        rows = get(srv.url, path, symbol="BTCUSDT", interval=interval)["result"]["list"]
        for value in (v for r in rows for v in r[1:]):
            assert "e" not in value and decimals(value) == 6 and value != "-0.000000", value


def test_ticker_prices_are_on_the_tick_with_its_decimals(make_server: MakeServer):
    insts = [i.model_copy(update={"history_days": 5}) for i in FakeBybitConfig().instruments]
    srv = make_server(FakeBybitConfig(instruments=insts), source=engine_source())
    ticks = tick_sizes(srv.url)
    fields = ("lastPrice", "prevPrice24h", "highPrice24h", "lowPrice24h", "bid1Price",
              "ask1Price", "markPrice", "indexPrice")  # fmt: skip
    for category in ("linear", "spot", "inverse"):
        for row in get(srv.url, "/v5/market/tickers", category=category)["result"]["list"]:
            tick_text = ticks[(category, row["symbol"])]
            prices = [row[f] for f in fields if f in row]
            assert len(prices) >= 6
            # Bybit prints ticker prices with the tick's own digits ("0.50" -> "16597.00").
            assert all(decimals(p) == decimals(tick_text) for p in prices), (prices, tick_text)
            assert_on_tick(prices, Decimal(tick_text), max_decimals=decimals(tick_text))
            assert decimals(row["volume24h"]) <= 3, row


def test_instrument_tick_size_is_configurable(make_server: MakeServer):
    inst = FakeInstrument(
        symbol="BTCUSD", category="inverse", tick_size=Decimal("0.50"), history_days=3
    )
    srv = make_server(FakeBybitConfig(instruments=[inst]))
    row = get(srv.url, "/v5/market/instruments-info", category="inverse")["result"]["list"][0]
    assert row["priceFilter"] == {"minPrice": "0.50", "maxPrice": "9999999.00", "tickSize": "0.50"}
    rows = get(srv.url, "/v5/market/kline", category="inverse", symbol="BTCUSD", interval="5")
    prices = [p for r in rows["result"]["list"] for p in r[1:5]]
    assert_on_tick(prices, Decimal("0.5"), max_decimals=1)


def test_one_minute_series_generated_once_per_symbol(make_server: MakeServer):
    calls: list[tuple[int, str]] = []

    def counting(n_bars: int, *, interval_minutes: int = 1, start_ms: int, seed: int = 42,
                 symbol: str = "X") -> dict[str, np.ndarray]:  # fmt: skip
        calls.append((interval_minutes, symbol))
        return random_walk_candles(n_bars, start_ms=start_ms, seed=seed, symbol=symbol)

    srv = make_server(one_symbol(20), source=counting)
    for path in KLINE_PATHS:
        for interval in INTERVALS:
            get(srv.url, path, symbol="BTCUSDT", interval=interval, limit=5)
    get(srv.url, "/v5/market/tickers", category="linear")
    assert calls == [(1, "BTCUSDT")]
