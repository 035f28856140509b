"""backtesting.py strategies for the benches, at module level: ``Backtest.optimize``
runs them in a process pool, which pickles the class by its importable name."""

from __future__ import annotations

from typing import Any

import pandas as pd
from backtesting import Strategy
from backtesting.lib import crossover


def ema(x: Any, n: int) -> Any:
    return pd.Series(x).ewm(span=n, adjust=False).mean().to_numpy()


class Cross(Strategy):  # type: ignore[misc]
    """EMA cross, always in the market (reversal on each cross), no stops."""

    fast = 10
    slow = 50

    def init(self) -> None:
        self.a = self.I(ema, self.data.Close, self.fast)
        self.b = self.I(ema, self.data.Close, self.slow)

    def next(self) -> None:
        if crossover(self.a, self.b):
            self.position.close()
            self.buy()
        elif crossover(self.b, self.a):
            self.position.close()
            self.sell()
