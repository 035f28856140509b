"""Stress rewrites of candles: a gap, a volatility change; validated, labelled synthetic."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from ohlcv import Candles

PRICES = ("open", "high", "low", "close")


@pytest.fixture(scope="module")
def market() -> Candles:
    """Candles labelled as exchange data (synthetic=False), so the label change shows."""
    s = engine.sample_candles("ETHUSDT", "60", 500, seed=2)
    return engine.make_candles(s.time, s.open, s.high, s.low, s.close, s.volume,
                               symbol="ETHUSDT", interval="60", category="linear")


def keeps_the_rules(c: Candles) -> None:
    assert c.validated and c.synthetic
    assert (c.high >= np.maximum(c.open, c.close)).all()
    assert (c.low <= np.minimum(c.open, c.close)).all()
    engine.validate_candles(c)


@pytest.mark.parametrize(("at", "bar"), [("start", 1), ("middle", 250), ("end", 498), (100, 100)])
@pytest.mark.parametrize("gap", [-0.2, 0.05])
def test_gap_moves_every_price_from_the_chosen_bar(market: Candles, at: str | int, bar: int,
                                                   gap: float) -> None:
    out = engine.with_gap(market, gap, at)
    for name in PRICES:
        before, after = getattr(market, name), getattr(out, name)
        np.testing.assert_array_equal(after[:bar], before[:bar])
        np.testing.assert_allclose(after[bar:], before[bar:] * (1 + gap), rtol=1e-15)
    np.testing.assert_array_equal(out.time, market.time)
    np.testing.assert_array_equal(out.volume, market.volume)
    np.testing.assert_allclose(out.turnover[bar:], market.turnover[bar:] * (1 + gap), rtol=1e-12)
    keeps_the_rules(out)


@pytest.mark.parametrize("multiplier", [2.0, 0.5])
def test_volatility_scales_log_distance_from_the_first_close(market: Candles,
                                                             multiplier: float) -> None:
    out = engine.with_volatility(market, multiplier)
    c0 = market.close[0]
    assert out.close[0] == c0
    for name in PRICES:
        np.testing.assert_allclose(np.log(getattr(out, name) / c0),
                                   multiplier * np.log(getattr(market, name) / c0),
                                   rtol=1e-9, atol=1e-12)
    vol = np.std(np.diff(np.log(out.close)))  # so the volatility of returns scales too
    assert vol == pytest.approx(multiplier * np.std(np.diff(np.log(market.close))), rel=1e-9)
    keeps_the_rules(out)


def test_rewrites_keep_the_labels_and_say_synthetic(market: Candles) -> None:
    assert not market.synthetic
    for out in (engine.with_gap(market, 0.1), engine.with_volatility(market, 1.5)):
        assert (out.symbol, out.interval, out.category) == ("ETHUSDT", "60", "linear")
        assert out.synthetic and out.fingerprint() != market.fingerprint()
        assert engine.backtest(out, "ema_cross").summary()["synthetic"] is True


def test_bad_arguments_are_clear_errors(market: Candles) -> None:
    with pytest.raises(engine.InvalidParameterError, match="above -1"):
        engine.with_gap(market, -1.0)
    with pytest.raises(engine.InvalidParameterError, match="start, middle, end"):
        engine.with_gap(market, 0.1, "later")
    with pytest.raises(engine.InvalidParameterError, match="not a bar"):
        engine.with_gap(market, 0.1, 0)
    with pytest.raises(engine.InvalidDataError, match="at least 3 bars"):
        engine.with_gap(market.slice(0, 2), 0.1)
    with pytest.raises(engine.InvalidParameterError, match="must be > 0"):
        engine.with_volatility(market, 0.0)
