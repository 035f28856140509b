"""Every validation error says what is wrong and how to fix it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine

T = 1_704_067_200_000 + np.arange(5, dtype=np.int64) * 60_000
P = np.array([100.0, 101, 102, 101, 100])


def mk(**over):  # type: ignore[no-untyped-def]
    cols = {"time": T.copy(), "open": P.copy(), "high": P + 1, "low": P - 1, "close": P.copy(), "volume": np.ones(5)}
    cols.update(over)
    return engine.make_candles(cols["time"], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"])


@pytest.mark.parametrize(
    ("over", "pattern"),
    [
        ({"time": T[[0, 1, 1, 3, 4]]}, r"row 2 is a duplicate.*drop_duplicates"),
        ({"time": T[[0, 2, 1, 3, 4]]}, r"row 2 is earlier.*sort"),
        ({"close": np.array([100, np.nan, 102, 101, 100.0])}, r"close is NaN or infinite at row 1.*dropna"),
        ({"open": np.array([100, 101, np.inf, 101, 100.0])}, r"open is NaN or infinite at row 2"),
        ({"volume": np.array([1, 1, -1, 1, 1.0])}, r"volume is negative at row 2"),
        ({"high": np.array([101, 102, 100, 102, 101.0]), "low": np.array([99, 100, 101, 100, 99.0])}, r"high < low at row 2"),
        ({"high": np.array([101, 102, 101.5, 102, 101.0])}, r"high < max\(open, close\) at row 2"),
        ({"low": np.array([99, 100, 102.5, 100, 99.0])}, r"low > min\(open, close\) at row 2"),
    ],
)
def test_bad_candles(over: dict, pattern: str) -> None:
    with pytest.raises(engine.InvalidDataError, match=pattern):
        mk(**over)


def test_empty_and_too_short() -> None:
    with pytest.raises(engine.InvalidDataError, match="empty"):
        engine.make_candles([], [], [], [], [])
    c = mk()
    with pytest.raises(engine.InvalidDataError, match=r"warm up.*load more history"):
        engine.backtest(c, "ema_cross", {"fast": 2, "slow": 10})


def test_unknown_strategy_and_parameters() -> None:
    c = mk()
    with pytest.raises(engine.UnknownStrategyError, match="choose one of: ema_cross"):
        engine.backtest(c, "ema_crosss")
    with pytest.raises(engine.InvalidParameterError, match=r"unknown parameter.*fastt.*fast, slow"):
        engine.backtest(c, "ema_cross", {"fastt": 3})
    with pytest.raises(engine.InvalidParameterError, match=r"out of range; use a value from 2 to 500"):
        engine.backtest(c, "ema_cross", {"fast": 1})
    with pytest.raises(engine.InvalidParameterError, match="must be an integer"):
        engine.backtest(c, "ema_cross", {"fast": 2.5})
    with pytest.raises(engine.InvalidParameterError, match="needs fast < slow"):
        engine.backtest(c, "ema_cross", {"fast": 30, "slow": 20})


def test_bad_options() -> None:
    c = mk()
    with pytest.raises(engine.InvalidParameterError, match="sl"):
        engine.backtest(c, "buy_and_hold", sl=-0.1)
    with pytest.raises(engine.InvalidParameterError, match="direction"):
        engine.backtest(c, "buy_and_hold", direction="sideways")
    with pytest.raises(engine.InvalidParameterError, match="use leverage"):
        engine.backtest(c, "buy_and_hold", size=2.0)
    with pytest.raises(engine.InvalidParameterError, match="unknown_opt"):
        engine.backtest(c, "buy_and_hold", unknown_opt=1)


def test_frame_reading() -> None:
    df = pd.DataFrame({"Timestamp": ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"], "Open": [1, 2], "HIGH": [2, 3], "low": [0.5, 1.5], "Close": [1.5, 2.5], "Volume": [1, 1]})
    c = engine.candles_from_frame(df)
    assert c.time[1] - c.time[0] == 60_000 and c.close[1] == 2.5
    secs = pd.DataFrame({"time": [1_704_067_200, 1_704_067_260], "open": [1, 2], "high": [2, 3], "low": [0.5, 1.5], "close": [1.5, 2.5]})
    assert engine.candles_from_frame(secs).time[0] == 1_704_067_200_000
    with pytest.raises(engine.InvalidDataError, match=r"missing column.*close"):
        engine.candles_from_frame(df.drop(columns=["Close"]))
    bad = df.copy()
    bad["Timestamp"] = ["yesterday-ish", "2024-01-01"]
    with pytest.raises(engine.InvalidDataError, match="time"):
        engine.candles_from_frame(bad)
