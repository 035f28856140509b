"""The floor under `engine` and `market`: the value types both need, once.

`Candles` (OHLCV + turnover arrays with symbol, interval, category and a
`synthetic` label that survives slicing, resampling and export), `Interval`
(Bybit labels, bar length, bucket alignment), `resample`, time parsing and
formatting, `describe_data` (how every surface words where data came from),
and the in-process `TtlLru`. Pure numpy and the standard library:
no I/O, no network, no numba.
"""

from ohlcv.candles import COLUMNS, Candles
from ohlcv.errors import InvalidTimeError, OhlcvError, ResampleError, UnknownIntervalError
from ohlcv.intervals import (
    DAY_MS,
    INTERVALS,
    MINUTE_MS,
    WEEK_MS,
    Interval,
    IntervalLabel,
    can_resample,
    floor_time,
    floor_times,
    interval_ms,
    next_open,
    next_opens,
    normalize_interval,
)
from ohlcv.lru import TtlLru
from ohlcv.provenance import DataLabel, describe_data
from ohlcv.resample import partial_edges, resample
from ohlcv.times import (
    epoch_ms_array,
    format_iso,
    format_minute,
    now_ms,
    parse_time_ms,
    to_epoch_ms,
)

__all__ = [
    "COLUMNS",
    "DAY_MS",
    "INTERVALS",
    "MINUTE_MS",
    "WEEK_MS",
    "Candles",
    "DataLabel",
    "Interval",
    "IntervalLabel",
    "InvalidTimeError",
    "OhlcvError",
    "ResampleError",
    "TtlLru",
    "UnknownIntervalError",
    "can_resample",
    "describe_data",
    "epoch_ms_array",
    "floor_time",
    "floor_times",
    "format_iso",
    "format_minute",
    "interval_ms",
    "next_open",
    "next_opens",
    "normalize_interval",
    "now_ms",
    "parse_time_ms",
    "partial_edges",
    "resample",
    "to_epoch_ms",
]
