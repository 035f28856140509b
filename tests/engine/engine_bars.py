"""Hand-built bars for the semantics tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import engine
from ohlcv import Candles

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000


def bars(rows: Sequence[tuple[float, float, float, float]], step_ms: int = MIN, t0: int = T0) -> Candles:
    """Candles from (open, high, low, close) rows, one minute apart."""
    a = np.array(rows, dtype=float)
    t = t0 + np.arange(len(rows), dtype=np.int64) * step_ms
    return engine.make_candles(t, a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.ones(len(rows)), interval="1")


def flat(n: int, price: float = 100.0) -> list[tuple[float, float, float, float]]:
    return [(price, price, price, price)] * n


def signals(n: int, le: Sequence[int] = (), lx: Sequence[int] = (), se: Sequence[int] = (), sx: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """Boolean signal arrays with True at the given bar indices."""
    out = {}
    for name, idx in (("long_entry", le), ("long_exit", lx), ("short_entry", se), ("short_exit", sx)):
        arr = np.zeros(n, dtype=bool)
        arr[list(idx)] = True
        out[name] = arr
    return out


def run(rows, sig=None, **options):  # type: ignore[no-untyped-def]
    """Backtest hand-built bars with explicit signals, fee 0 unless given."""
    c = bars(rows)
    options.setdefault("fee", 0.0)
    return engine.backtest_signals(c, **(sig or {}), **options)
