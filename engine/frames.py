"""Turning a user's table (a pandas DataFrame) into validated candles."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.candles import make_candles
from engine.errors import InvalidDataError
from ohlcv import Candles

_TIME_NAMES = ("time", "timestamp", "date", "datetime", "open_time", "start")


def candles_from_frame(df: Any, *, symbol: str = "", interval: str = "") -> Candles:
    """Candles from a DataFrame with columns time (or timestamp/date; ISO text,
    epoch seconds or milliseconds), open, high, low, close and optional volume,
    matched case-insensitively. Raises :class:`InvalidDataError` saying what is
    missing."""
    import pandas as pd  # lazily: most engine users never need it, and it costs start-up time
    if not isinstance(df, pd.DataFrame):
        raise InvalidDataError("expected a table of candles (a pandas DataFrame)")
    cols = {str(c).strip().lower(): c for c in df.columns}
    time_col = next((cols[n] for n in _TIME_NAMES if n in cols), None)
    missing = [n for n in ("open", "high", "low", "close") if n not in cols]
    if time_col is None or missing:
        need = (["time"] if time_col is None else []) + missing
        raise InvalidDataError(
            f"not an OHLCV table: missing column(s) {', '.join(need)}; expected time (or "
            f"timestamp/date), open, high, low, close, volume; found {', '.join(map(str, df.columns)) or 'none'}"
        )
    if len(df) == 0:
        raise InvalidDataError("the table has no rows; pass at least 2 candles")
    times = _to_epoch_ms(df[time_col])
    prices = {}
    for name in ("open", "high", "low", "close", "volume"):
        if name not in cols:
            continue
        col = pd.to_numeric(df[cols[name]], errors="coerce")
        prices[name] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return make_candles(
        times, prices["open"], prices["high"], prices["low"], prices["close"], prices.get("volume"),
        symbol=symbol, interval=interval,
    )


def _to_epoch_ms(col: Any) -> np.ndarray:
    import pandas as pd
    if pd.api.types.is_datetime64_any_dtype(col):
        ts = pd.to_datetime(col, utc=True)
        return ts.astype("datetime64[ms, UTC]").astype(np.int64).to_numpy()
    numeric = pd.to_numeric(col, errors="coerce")
    if numeric.notna().all():
        values = numeric.to_numpy(dtype=np.float64)
        # epoch seconds are scaled to milliseconds by make_candles
        return values.astype(np.int64)
    try:
        ts = pd.to_datetime(col, utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise InvalidDataError(
            f"cannot read the time column as dates or epoch numbers ({exc}); use ISO text "
            "like 2024-01-01T00:00:00Z or epoch seconds/milliseconds"
        ) from None
    if ts.isna().any():
        row = int(np.argmax(ts.isna().to_numpy()))
        raise InvalidDataError(f"time at row {row} is empty or unreadable; fix or drop that row")
    return ts.astype("datetime64[ms, UTC]").astype(np.int64).to_numpy()
