"""Resampling matches pandas `resample` with the same alignment (property test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ohlcv import Candles, ResampleError, can_resample, partial_edges, resample

MIN = 60_000
RULES = {
    "3": "3min",
    "15": "15min",
    "60": "60min",
    "240": "240min",
    "480": "480min",
    "D": "1D",
    "W": "W-MON",
    "M": "MS",
}


def to_frame(c: Candles) -> pd.DataFrame:
    idx = pd.to_datetime(c.time, unit="ms", utc=True)
    return pd.DataFrame(
        {k: getattr(c, k) for k in ("open", "high", "low", "close", "volume", "turnover")},
        index=idx,
    )


def pandas_resample(c: Candles, target: str) -> pd.DataFrame:
    kw = {"label": "left", "closed": "left"}
    if target not in ("W", "M", "D"):  # D already starts at 00:00 UTC
        kw["origin"] = "epoch"
    r = to_frame(c).resample(RULES[target], **kw)
    out = r.agg(
        {
            "open": "first",
            "high": "max",
            "low": "min",
            "close": "last",
            "volume": "sum",
            "turnover": "sum",
        }
    )
    counts = r["open"].count()
    return out[counts > 0]


@st.composite
def base_candles(draw):
    base = draw(st.sampled_from(["1", "5", "60"]))
    step = int(base) * MIN
    n = draw(st.integers(1, 400))
    start = draw(st.integers(1_500_000_000_000 // step, 1_800_000_000_000 // step)) * step
    if base == "60":
        n *= 10  # reach weeks and months
    keep = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    times = start + np.arange(n, dtype=np.int64)[np.array(keep, dtype=bool)] * step
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    m = len(times)
    o = rng.uniform(10, 20, m)
    c = rng.uniform(10, 20, m)
    h = np.maximum(o, c) + rng.uniform(0, 1, m)
    lo = np.minimum(o, c) - rng.uniform(0, 1, m)
    v = rng.uniform(0, 5, m)
    return base, Candles(times, o, h, lo, c, v, v * c)


@settings(max_examples=60, deadline=None)
@given(base_candles(), st.sampled_from(list(RULES)))
def test_resample_matches_pandas(data, target):
    base, c = data
    if not can_resample(base, target) or (
        target not in ("W", "M", "D") and int(target) < int(base)
    ):
        return
    got = resample(c, target, base=base)
    want = pandas_resample(c, target)
    assert np.array_equal(
        got.time, (want.index.as_unit("ms").asi8 if len(want) else np.empty(0, np.int64))
    )
    for col in ("open", "high", "low", "close", "volume", "turnover"):
        assert np.allclose(getattr(got, col), want[col].to_numpy(), rtol=1e-12, atol=1e-9), col


def test_duplicates_latest_wins_and_unsorted_input():
    t = np.array([2, 0, 1, 0], dtype=np.int64) * MIN
    c = Candles(t, np.array([3.0, 1, 2, 9]), np.array([3.0, 1, 2, 9]), np.array([3.0, 1, 2, 9]),
                np.array([3.0, 1, 2, 9]), np.ones(4), np.ones(4))  # fmt: skip
    out = resample(c, "3", base="1")
    assert (
        out.time.tolist() == [0] and out.open[0] == 9 and out.close[0] == 3 and out.volume[0] == 3
    )


def test_weekly_buckets_start_on_monday_and_monthly_on_the_first():
    t = np.arange(0, 70 * 24) * 60 * MIN + 1_700_000_000_000 // (3600_000) * 3600_000
    c = Candles(t, *(np.ones(len(t)) for _ in range(6)))
    for ms in resample(c, "W", base="60").time:
        assert pd.Timestamp(int(ms), unit="ms", tz="UTC").day_of_week == 0
    for ms in resample(c, "M", base="60").time:
        ts = pd.Timestamp(int(ms), unit="ms", tz="UTC")
        assert ts.day == 1 and ts.hour == 0


def test_incompatible_target_rejected():
    c = Candles.empty()
    with pytest.raises(ResampleError, match="whole number"):
        resample(c, "7", base="5")
    with pytest.raises(ResampleError, match="no interval label"):
        resample(c, "60")
    assert not can_resample("M", "W") and not can_resample("W", "M") and can_resample("D", "M")


def test_labels_survive_and_partial_edges_are_reported():
    t = (np.arange(0, 140) + 30) * MIN  # 00:30 .. 02:49: the first and last hours are partial
    one = np.ones(len(t))
    c = Candles.build(t, one, one, one, one, one, symbol="X", interval="1", category="spot",
                      synthetic=True)  # fmt: skip
    hours = resample(c, "60")
    assert (hours.symbol, hours.interval, hours.category, hours.synthetic) == ("X", "60", "spot", True)
    assert partial_edges(c, "60") == (True, True)
    assert partial_edges(c.slice(30, 140), "60") == (False, True)
    assert partial_edges(c.slice(30, 90), "60") == (False, False)
    assert len(resample(c, "60", drop_partial=True)) == len(hours) - 1
