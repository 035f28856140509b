"""Indicator definitions pinned against pandas and hand formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine
from engine import indicators as ind
from ohlcv import Candles


@pytest.fixture(scope="module")
def c() -> Candles:
    return engine.sample_candles("BTCUSDT", "5", 2000, seed=3)


def test_ema_matches_pandas_adjust_false(c: Candles) -> None:
    want = pd.Series(c.close).ewm(span=20, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(ind.ema(c.close, 20), want, rtol=1e-12)


def test_sma_matches_pandas_rolling(c: Candles) -> None:
    want = pd.Series(c.close).rolling(30).mean().to_numpy()
    got = ind.sma(c.close, 30)
    assert np.isnan(got[:29]).all()
    np.testing.assert_allclose(got[29:], want[29:], rtol=1e-10)


def test_rsi_wilder(c: Candles) -> None:
    n = 14
    d = np.diff(c.close)
    gain, loss = np.clip(d, 0, None), np.clip(-d, 0, None)
    ag, al = gain[:n].mean(), loss[:n].mean()
    want = [100 - 100 / (1 + ag / al)]
    for g, lo in zip(gain[n:], loss[n:], strict=True):
        ag = (ag * (n - 1) + g) / n
        al = (al * (n - 1) + lo) / n
        want.append(100 - 100 / (1 + ag / al))
    got = ind.rsi(c.close, n)
    assert np.isnan(got[:n]).all()
    np.testing.assert_allclose(got[n:], want, rtol=1e-10)


def test_atr_wilder(c: Candles) -> None:
    n = 14
    prev = c.close[:-1]
    tr = np.maximum.reduce([c.high[1:] - c.low[1:], np.abs(c.high[1:] - prev), np.abs(c.low[1:] - prev)])
    a = tr[:n].mean()
    want = [a]
    for x in tr[n:]:
        a = (a * (n - 1) + x) / n
        want.append(a)
    got = ind.atr(c.high, c.low, c.close, n)
    np.testing.assert_allclose(got[n:], want, rtol=1e-10)


def _wilder_reference(x: list[float], n: int) -> list[float]:
    """Wilder's smoothing by hand: the mean of the first n values, then (s*(n-1) + x)/n."""
    s = sum(x[:n]) / n
    out = [s]
    for v in x[n:]:
        s = (s * (n - 1) + v) / n
        out.append(s)
    return out


def _adx_reference(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """ADX as the textbook (Wilder, TA-Lib) defines it, one bar at a time."""
    plus_dm, minus_dm, tr = [], [], []
    for i in range(1, len(close)):
        up, down = high[i] - high[i - 1], low[i - 1] - low[i]
        plus_dm.append(up if up > down and up > 0 else 0.0)
        minus_dm.append(down if down > up and down > 0 else 0.0)
        tr.append(max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1])))
    dx = []
    for p, m, a in zip(_wilder_reference(plus_dm, n), _wilder_reference(minus_dm, n),
                       _wilder_reference(tr, n), strict=True):
        plus_di, minus_di = 100 * p / a, 100 * m / a
        dx.append(100 * abs(plus_di - minus_di) / (plus_di + minus_di))
    out = np.full(len(close), np.nan)
    out[2 * n - 1 :] = _wilder_reference(dx, n)
    return out


@pytest.mark.parametrize("n", [14, 5])
def test_adx_wilder(c: Candles, n: int) -> None:
    got = ind.adx(c.high, c.low, c.close, n)
    want = _adx_reference(c.high, c.low, c.close, n)
    assert np.isnan(got[: 2 * n - 1]).all() and np.isfinite(got[2 * n - 1 :]).all()
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert np.min(got[2 * n - 1 :]) >= 0 and np.max(got[2 * n - 1 :]) <= 100


def test_adx_edges() -> None:
    rising = np.arange(100.0, 160.0)  # every bar a higher high and a higher low: pure trend
    assert ind.adx(rising + 1, rising - 1, rising, 14)[-1] == pytest.approx(100.0)
    flat = np.full(40, 100.0)  # no movement at all: DX is 0, not NaN
    assert ind.adx(flat, flat, flat, 14)[-1] == 0.0
    assert np.isnan(ind.adx(rising[:27], rising[:27], rising[:27], 14)).all()  # fewer than 2n bars
    with pytest.raises(engine.InvalidParameterError, match="positive integer"):
        ind.adx(rising, rising, rising, 0)


def test_macd_bollinger_donchian(c: Candles) -> None:
    s = pd.Series(c.close)
    line = s.ewm(span=12, adjust=False).mean() - s.ewm(span=26, adjust=False).mean()
    m = ind.macd(c.close, 12, 26, 9)
    np.testing.assert_allclose(m.macd, line, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(m.signal, line.ewm(span=9, adjust=False).mean(), rtol=1e-10, atol=1e-9)
    b = ind.bollinger(c.close, 20, 2.0)
    mid = s.rolling(20).mean()
    sd = s.rolling(20).std(ddof=0)
    np.testing.assert_allclose(b.upper[19:], (mid + 2 * sd)[19:], rtol=1e-9)
    d = ind.donchian(c.high, c.low, 20)
    np.testing.assert_allclose(d.upper[19:], pd.Series(c.high).rolling(20).max()[19:])
    np.testing.assert_allclose(d.lower[19:], pd.Series(c.low).rolling(20).min()[19:])


def test_bad_window_is_a_clear_error() -> None:
    with pytest.raises(engine.InvalidParameterError, match="positive integer"):
        ind.ema([1.0, 2.0], 0)
