"""The embedded sample data set: deterministic, realistic BTCUSDT-like candles.

No network is needed: a seeded generator produces one-minute bars with volatility
clustering (GARCH), regime changes (range, up/down trends, turbulence), fat-tailed
shocks (Student-t), rare gaps and plausible intraday volume, and resamples them
to any interval. Everything made from it carries ``synthetic=True``.
"""

from __future__ import annotations

import zlib

import numpy as np

from engine._nb.sample_nb import generate_minutes_nb
from engine.errors import InvalidParameterError
from ohlcv import MINUTE_MS, Candles, Interval, UnknownIntervalError, resample

DEFAULT_START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
_START_PRICES = {"BTC": 42_000.0, "ETH": 2_300.0, "SOL": 100.0, "BNB": 310.0, "XRP": 0.6}
_MAX_MINUTES = 20_000_000
_MINUTE_LABELS = {1440: "D", 10080: "W"}


def _symbol_params(symbol: str) -> tuple[float, float, int]:
    base = symbol.upper().removesuffix("PERP").removesuffix("USDT").removesuffix("USDC").removesuffix("USD")
    price = _START_PRICES.get(base, 10.0)
    tick = 0.1 if price >= 1000 else (0.01 if price >= 10 else 0.0001)
    return price, tick, zlib.crc32(symbol.upper().encode())


def generate_candles(
    n_bars: int,
    *,
    interval_minutes: int = 1,
    start_ms: int = DEFAULT_START_MS,
    seed: int = 42,
    symbol: str = "BTCUSDT",
) -> dict[str, np.ndarray]:
    """``n_bars`` candles of ``interval_minutes`` as plain arrays.

    Keys: ``time`` (int64 epoch ms open times), ``open``, ``high``, ``low``,
    ``close``, ``volume`` (float64). The same arguments always give the same
    arrays. ``start_ms`` is floored to the interval so buckets align to the epoch.
    """
    c = sample_candles(
        symbol=symbol, interval=_MINUTE_LABELS.get(interval_minutes, str(interval_minutes)),
        bars=n_bars, seed=seed, start_ms=start_ms,
    )
    return {
        "time": c.time, "open": c.open, "high": c.high, "low": c.low,
        "close": c.close, "volume": c.volume,
    }


def sample_candles(
    symbol: str = "BTCUSDT",
    interval: str = "15",
    bars: int = 35_040,
    *,
    seed: int = 42,
    start_ms: int = DEFAULT_START_MS,
) -> Candles:
    """Synthetic candles for ``symbol`` at ``interval`` (Bybit labels: 1 … 720, D, W, M).

    ``bars`` is the number of bars at the requested interval (the default is one
    year of 15-minute bars). The result is labelled ``synthetic=True``.
    """
    try:
        label = Interval.parse(interval).label
    except UnknownIntervalError as exc:
        raise InvalidParameterError(str(exc)) from None
    if bars < 1:
        raise InvalidParameterError(f"bars must be >= 1, got {bars}")
    per_bar = {"D": 1440, "W": 10080, "M": 44640}.get(label) or int(label)
    minutes = bars * per_bar + (per_bar if label in ("W", "M") else 0)
    if minutes > _MAX_MINUTES:
        raise InvalidParameterError(
            f"{bars} bars of {label} need {minutes:,} one-minute bars, above the "
            f"{_MAX_MINUTES:,} limit; ask for fewer bars or a shorter interval"
        )
    step = {"D": 1440, "W": 1440, "M": 1440}.get(label, per_bar) * MINUTE_MS
    start = (int(start_ms) // step) * step
    price, tick, sym_hash = _symbol_params(symbol)
    mixed_seed = (int(seed) * 1_000_003 + sym_hash) % (2**31 - 1)
    minute_of_day = (start // MINUTE_MS) % 1440
    o, h, lo, c, v = generate_minutes_nb(minutes, price, 0.0009, minute_of_day, mixed_seed, tick)
    time = start + np.arange(minutes, dtype=np.int64) * MINUTE_MS
    one_min = Candles.build(
        time, o, h, lo, c, v, symbol=symbol.upper(), interval="1", synthetic=True
    )
    if label == "1":
        return one_min
    out = resample(one_min, label, drop_partial=True)
    if label in ("W", "M"):
        out = out.slice(max(0, len(out) - bars), len(out))
    return out
