"""Market-regime features: finite, named, and telling a trend from a range."""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine
from ohlcv import Candles

KEYS = {"sma_slope", "efficiency_ratio", "volatility_ann", "volatility_percentile", "adx"}


def from_close(close: np.ndarray) -> Candles:
    """Hourly candles opening at the previous close, high and low just outside the body."""
    open_ = np.concatenate(([close[0]], close[:-1]))
    t = 1_704_067_200_000 + np.arange(close.size, dtype=np.int64) * 3_600_000
    return engine.make_candles(t, open_, np.maximum(open_, close) * 1.001,
                               np.minimum(open_, close) * 0.999, close, interval="60")


def trending(n: int = 400, seed: int = 0) -> Candles:
    rng = np.random.default_rng(seed)
    return from_close(100 * np.exp(np.cumsum(0.003 + rng.normal(0, 0.006, n))))


def mean_reverting(n: int = 400, seed: int = 0) -> Candles:
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    for i in range(1, n):  # AR(1) pulled hard back to 0
        x[i] = 0.3 * x[i - 1] + rng.normal(0, 0.005)
    return from_close(100 * np.exp(x))


def test_features_are_finite_and_named() -> None:
    f = engine.regime_features(engine.sample_candles("BTCUSDT", "15", 3000, seed=4))
    assert set(f) == KEYS
    assert all(isinstance(v, float) and math.isfinite(v) for v in f.values())
    assert 0 <= f["efficiency_ratio"] <= 1 and 0 < f["volatility_percentile"] <= 1
    assert 0 <= f["adx"] <= 100 and f["volatility_ann"] > 0


def test_a_trend_scores_higher_than_a_range() -> None:
    for seed in range(3):
        trend = engine.regime_features(trending(seed=seed))
        chop = engine.regime_features(mean_reverting(seed=seed))
        assert trend["adx"] > chop["adx"] + 20
        assert trend["efficiency_ratio"] > chop["efficiency_ratio"] + 0.3
        assert trend["sma_slope"] > 0.002 > abs(chop["sma_slope"])


def test_too_few_bars_is_a_clear_error() -> None:
    with pytest.raises(engine.InvalidDataError, match="need at least 102 bars, got 101"):
        engine.regime_features(trending(101))
    assert set(engine.regime_features(trending(102))) == KEYS  # the minimum is enough
    with pytest.raises(engine.InvalidDataError, match="at least 42 bars"):
        engine.regime_features(trending(41), window=20)
    with pytest.raises(engine.InvalidParameterError, match="window"):
        engine.regime_features(trending(400), window=1)
