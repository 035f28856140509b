"""The candle store: idempotent upsert, chunking, gaps, crash debris, bad directories."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from market_testkit import MIN, NOW

from market import CandleStore, DatasetKey, StoreUnavailableError, random_walk_candles
from ohlcv import Candles

KEY = DatasetKey.of("linear", "btcusdt", "1m")
T0 = (NOW // MIN) * MIN - 200_000 * MIN


def candles(n: int, start: int = T0, seed: int = 1) -> Candles:
    return Candles.from_arrays(random_walk_candles(n, start_ms=start, seed=seed))


def test_key_is_normalised():
    assert DatasetKey("linear", "BTCUSDT", "1") == KEY and str(KEY) == "linear/BTCUSDT/1"


def test_upsert_is_idempotent_and_latest_wins(tmp_path):
    store = CandleStore(tmp_path)
    c = candles(150_000)  # spans three chunks
    assert store.upsert(KEY, c) == 150_000
    assert store.upsert(KEY, c) == 0
    assert store.load(KEY).equals(c)
    changed = c.take(slice(1000, 1010))
    changed = Candles(
        changed.time,
        changed.open,
        changed.high,
        changed.low,
        changed.close + 1,
        changed.volume,
        changed.turnover,
    )
    assert store.upsert(KEY, changed) == 0
    got = store.load(KEY)
    assert len(got) == 150_000 and np.array_equal(got.close[1000:1010], c.close[1000:1010] + 1)
    assert len(list((tmp_path / "v1/linear/BTCUSDT/1").glob("chunk-*.parquet"))) in (
        3,
        4,
    )  # 150k rows over 65,536-candle spans


def test_load_inclusive_bounds(tmp_path):
    store = CandleStore(tmp_path)
    store.upsert(KEY, candles(100))
    got = store.load(KEY, T0 + 10 * MIN, T0 + 20 * MIN)
    assert got.time[0] == T0 + 10 * MIN and got.time[-1] == T0 + 20 * MIN and len(got) == 11


def test_gaps_and_missing(tmp_path):
    store = CandleStore(tmp_path)
    c = candles(100)
    store.upsert(KEY, c.take(np.r_[0:40, 50:100]))
    gaps = store.gaps(KEY)
    assert [(g.start, g.end) for g in gaps] == [(T0 + 40 * MIN, T0 + 50 * MIN - 1)]
    missing = store.missing(KEY, T0 - 5 * MIN, T0 + 104 * MIN)
    assert [(g.start, g.end) for g in missing] == [
        (T0 - 5 * MIN, T0 - 1),
        (T0 + 40 * MIN, T0 + 50 * MIN - 1),
        (T0 + 100 * MIN, T0 + 104 * MIN),
    ]
    store.mark_empty(KEY, T0 + 40 * MIN, T0 + 50 * MIN - 1)
    assert store.gaps(KEY) == []
    assert len(store.missing(KEY, T0 - 5 * MIN, T0 + 104 * MIN)) == 2


def test_datasets_listing(tmp_path):
    store = CandleStore(tmp_path)
    store.upsert(KEY, candles(10))
    store.upsert(
        DatasetKey.of("spot", "ETHUSDT", "60"),
        Candles.from_arrays(random_walk_candles(5, interval_minutes=60, start_ms=T0)),
    )
    infos = {str(i.key): i for i in store.datasets()}
    assert set(infos) == {"linear/BTCUSDT/1", "spot/ETHUSDT/60"}
    assert infos["linear/BTCUSDT/1"].candles == 10 and infos["linear/BTCUSDT/1"].first == T0


def test_crash_debris_is_ignored_and_cleaned(tmp_path):
    store = CandleStore(tmp_path)
    store.upsert(KEY, candles(10))
    d = tmp_path / "v1/linear/BTCUSDT/1"
    debris = d / ".chunk-000000000000000.parquet.tmp-1-deadbeef"
    debris.write_bytes(b"PAR1 half a file")
    assert len(store.load(KEY)) == 10
    store.upsert(KEY, candles(20))
    assert not debris.exists() and len(store.load(KEY)) == 20


def test_unwritable_directory_is_a_clear_error(tmp_path):
    if os.geteuid() == 0:
        target = "/proc/bst-cannot-write-here"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = str(ro / "data")
    store = CandleStore(target)
    with pytest.raises(StoreUnavailableError, match=r"not writable|cannot write"):
        store.check_writable()
    with pytest.raises(StoreUnavailableError):
        store.upsert(KEY, candles(3))


def test_synthetic_mark_is_kept_for_good(tmp_path):
    """A data set that received synthetic candles stays marked: through later real
    upserts, verified-empty ranges, a new store object and the listing."""
    store = CandleStore(tmp_path)
    other = DatasetKey.of("linear", "ETHUSDT", "1")
    store.upsert(other, candles(10))
    store.upsert(KEY, candles(50))
    assert not store.is_synthetic(KEY)
    store.upsert(KEY, candles(10, start=T0 + 100 * MIN), synthetic=True)
    store.upsert(KEY, candles(10, start=T0 + 200 * MIN))  # real candles added later
    store.mark_empty(KEY, T0 + 50 * MIN, T0 + 100 * MIN - 1)
    again = CandleStore(tmp_path)
    assert again.is_synthetic(KEY) and not again.is_synthetic(other)
    assert again.gaps(KEY, T0, T0 + 110 * MIN) == []  # the empty range survived the mark
    infos = {i.key: i.synthetic for i in again.datasets()}
    assert infos == {KEY: True, other: False}


def test_readers_never_see_a_chunk_half_replaced(tmp_path):
    # The live stream writes on a thread while readers load: a reader must get the old or the
    # new chunk, never pyarrow's "Page was smaller than expected" from mixing the two files.
    store = CandleStore(tmp_path)
    t0 = (NOW // (1000 * MIN)) * 1000 * MIN

    def bars(n: int, offset: int) -> Candles:
        t = t0 + (np.arange(n, dtype=np.int64) + offset) * MIN
        x = np.full(n, 100.0)
        return Candles(t, x, x, x, x, x, x)

    store.upsert(KEY, bars(1000, 0))
    stop = threading.Event()

    def write() -> None:
        i = 1000
        while not stop.is_set():
            store.upsert(KEY, bars(1, i))
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    errors, reads, deadline = [], 0, time.monotonic() + 3.0
    try:
        while time.monotonic() < deadline:
            try:
                assert len(store.load(KEY)) >= 1000
            except Exception as exc:  # collect, so the writer is always stopped
                errors.append(exc)
            reads += 1
    finally:
        stop.set()
        writer.join()
    assert reads > 0 and not errors, f"{len(errors)} of {reads} reads failed: {errors[:1]}"
