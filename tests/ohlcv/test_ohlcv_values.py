"""The floor's value types: intervals, times, candles and the TTL LRU."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from ohlcv import (
    DAY_MS,
    INTERVALS,
    MINUTE_MS,
    Candles,
    Interval,
    InvalidTimeError,
    TtlLru,
    UnknownIntervalError,
    epoch_ms_array,
    floor_times,
    format_iso,
    format_minute,
    next_opens,
    normalize_interval,
    parse_time_ms,
)

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a Monday


@pytest.mark.parametrize(
    ("alias", "label"),
    [("1m", "1"), ("15", "15"), ("015", "15"), ("1h", "60"), ("4h", "240"), ("d", "D"),
     ("1d", "D"), ("w", "W"), ("1M", "M"), (60, "60")],
)  # fmt: skip
def test_aliases_normalise(alias: str | int, label: str) -> None:
    assert normalize_interval(alias) == label
    assert Interval.parse(alias).label == label


def test_unknown_interval_names_the_valid_ones() -> None:
    with pytest.raises(UnknownIntervalError, match="use one of 1, 3, 5") as info:
        Interval.parse("7")
    assert info.value.valid == INTERVALS
    assert normalize_interval("480", native_only=False) == "480"
    with pytest.raises(UnknownIntervalError):
        normalize_interval("480")


def test_bucket_alignment_day_week_month() -> None:
    t = np.array([T0 + 3 * DAY_MS + 5 * MINUTE_MS, T0 + 40 * DAY_MS + 1])  # Thu 4 Jan, 10 Feb
    assert floor_times(t, "D").tolist() == [T0 + 3 * DAY_MS, T0 + 40 * DAY_MS]
    assert floor_times(t, "W").tolist() == [T0, T0 + 35 * DAY_MS]  # ISO Mondays
    feb = int(np.datetime64("2024-02-01", "ms").astype(np.int64))
    assert floor_times(t, "M").tolist() == [T0, feb]
    assert next_opens(np.array([feb]), "M").tolist() == [feb + 29 * DAY_MS]  # leap year
    assert floor_times(np.array([T0 + 17 * MINUTE_MS]), "15").tolist() == [T0 + 15 * MINUTE_MS]


def test_interval_lengths_and_bars_per_year() -> None:
    assert Interval.parse("15").per_year == 35_040
    assert Interval.parse("D").per_year == 365
    assert Interval.parse("M").per_year == 12 and Interval.parse("M").is_calendar
    assert Interval.parse("W").ms == 7 * DAY_MS
    assert Interval.parse("60").floor(T0 + 61 * MINUTE_MS) == T0 + 60 * MINUTE_MS
    assert Interval.parse("60").next_open(T0) == T0 + 60 * MINUTE_MS


@pytest.mark.parametrize(
    ("text", "ms"),
    [("2024-01-01", T0), ("2024-01-01T00:00", T0), ("2024-01-01T00:00:00Z", T0),
     ("2024-01-01T01:00:00+01:00", T0), (str(T0), T0), (str(T0 // 1000), T0), (T0 // 1000, T0),
     (T0, T0), (datetime(2024, 1, 1, tzinfo=UTC), T0), (date(2024, 1, 1), T0)],
)  # fmt: skip
def test_times_parse_iso_seconds_and_milliseconds(text: object, ms: int) -> None:
    assert parse_time_ms(text) == ms  # type: ignore[arg-type]


def test_bad_and_blank_times() -> None:
    assert parse_time_ms(None) is None and parse_time_ms("  ") is None
    with pytest.raises(InvalidTimeError, match=r"start='yesterday' is not a time; use ISO 8601"):
        parse_time_ms("yesterday", name="start")
    for typo in ("--5", "²", "-5", "9999-12-31", "99999999999999999999", float("nan"), True):
        with pytest.raises(InvalidTimeError, match="between 1970 and 2200"):
            parse_time_ms(typo)  # type: ignore[arg-type]
    assert format_iso(T0) == "2024-01-01T00:00:00Z" and format_minute(T0) == "2024-01-01 00:00"
    assert epoch_ms_array([T0 // 1000]).tolist() == [T0] and epoch_ms_array([T0]).tolist() == [T0]


def _candles(n: int = 10, **labels: object) -> Candles:
    t = T0 + np.arange(n, dtype=np.int64) * MINUTE_MS
    p = np.linspace(100, 110, n)
    return Candles.build(t, p, p + 1, p - 1, p, np.ones(n), **labels)


def test_labels_survive_slicing_taking_and_concatenation() -> None:
    c = _candles(symbol="BTCUSDT", interval="1", category="linear", synthetic=True, validated=True)
    for part in (c.slice(2, 5), c.take(np.array([1, 3])), c.tail(3), c.between(T0, T0 + MINUTE_MS)):
        assert part.labels() == c.labels()
    assert c.slice(2, 5).validated and not c.take(np.array([3, 1])).validated
    both = Candles.concat([c.slice(0, 4), c.slice(4, 10)])
    assert both.equals(c) and both.synthetic and both.symbol == "BTCUSDT"
    assert np.allclose(c.turnover, c.volume * c.close)  # turnover defaults to volume x close


def test_sorted_unique_keeps_the_latest_row() -> None:
    c = _candles(3)
    dup = Candles.concat([c, c.take(np.array([1])).relabel()])
    changed = Candles(dup.time, dup.open, dup.high, dup.low, dup.close + np.r_[0, 0, 0, 5],
                      dup.volume, dup.turnover)  # fmt: skip
    out = changed.sorted_unique()
    assert len(out) == 3 and out.close[1] == c.close[1] + 5


def test_fingerprint_covers_rows_and_labels() -> None:
    a, b = _candles(symbol="X"), _candles(symbol="X")
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != a.relabel(synthetic=True).fingerprint()
    assert a.fingerprint() != _candles(11, symbol="X").fingerprint()
    calls: list[int] = []
    assert a.memo("k", lambda: calls.append(1) or 7) == 7 and a.memo("k", lambda: 8) == 7
    assert calls == [1]
    with pytest.raises(ValueError, match="all columns must be the same length"):
        Candles(a.time, a.open[:-1], a.high, a.low, a.close, a.volume, a.turnover)


def test_bar_minutes_from_label_or_median_step() -> None:
    assert _candles(interval="15").periods_per_year == 35_040
    assert _candles().bar_minutes == 1.0  # no label: the median step


def test_ttl_lru_expires_evicts_and_weighs() -> None:
    now = [0.0]
    lru: TtlLru[str, bytes] = TtlLru(2, weigh=len, max_weight=10, clock=lambda: now[0])
    lru.set("a", b"1234", ttl_s=5)
    lru.set("b", b"12")
    assert lru.get("a") == b"1234" and [k for k, _ in lru.items()] == ["b", "a"]
    lru.set("c", b"1")  # evicts the least recently used: b
    assert lru.get("b") is None and len(lru) == 2
    assert not lru.set("big", b"x" * 11)  # alone above the weight limit
    now[0] = 5.0
    assert lru.get("a") is None and lru.get("c") == b"1"
    lru.set("d", b"1234567890")  # 10 + 1 > 10: c goes
    assert lru.get("c") is None and lru.pop("d") == b"1234567890" and len(lru) == 0
