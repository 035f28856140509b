"""The report view's data: one backtest's candles, trades, equity, drawdown and buy-and-hold.

The chart library draws every point it is given, so long series are cut into
buckets of consecutive bars (open of the first, high/low over the bucket, close of
the last) before they leave the server: at most `MAX_BARS` bars are drawn whatever
the length of the run, and the full data stays in the backtest:// resources.
Columns, not rows of objects: 100,000 candles and 5,000 trades stay a few hundred KB.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

import engine as E
from mcp_server.candles import LocalDataSpec
from mcp_server.errors import ResultNotFoundError
from mcp_server.numbers import round_json
from mcp_server.results import StoredBacktest, headline
from ohlcv import Candles

if TYPE_CHECKING:  # the context imports the jobs, which import the tools, which import this
    from mcp_server.context import AppContext

__all__ = ["MAX_BARS", "bucket_starts", "candle_columns", "report_data"]

MAX_BARS = 2000
F64 = npt.NDArray[np.float64]


def bucket_starts(n: int, max_bars: int = MAX_BARS) -> npt.NDArray[np.int64]:
    """First bar index of each bucket: consecutive runs of equal length, at most `max_bars`."""
    size = max(1, math.ceil(n / max_bars))
    return np.arange(0, n, size, dtype=np.int64)


def _last(values: F64, starts: npt.NDArray[np.int64]) -> F64:
    ends = np.append(starts[1:], len(values)) - 1
    return values[ends]


def candle_columns(candles: Candles, starts: npt.NDArray[np.int64]) -> dict[str, list[Any]]:
    """The candles bucketed at `starts`: time (UTC seconds of the first bar), OHLC."""
    if len(candles) == 0:
        return {"time": [], "open": [], "high": [], "low": [], "close": []}
    return {
        "time": (candles.time[starts] // 1000).tolist(),
        "open": _prices(candles.open[starts]),
        "high": _prices(np.maximum.reduceat(candles.high, starts)),
        "low": _prices(np.minimum.reduceat(candles.low, starts)),
        "close": _prices(_last(candles.close, starts)),
    }


def _prices(values: F64) -> list[float | None]:
    return [None if not math.isfinite(v) else float(f"{v:.8g}") for v in values.tolist()]


def _money(values: F64) -> list[float | None]:
    return [None if not math.isfinite(v) else round(v, 2) for v in values.tolist()]


def _trades(result: E.BacktestResult) -> dict[str, list[Any]]:
    """Trade columns: side 1 (long) / -1 (short), times in UTC seconds, the exit reason as
    an index into `reasons` (5,000 trades of repeated words cost more than their numbers)."""
    rows = result.trade_dicts()
    reasons = sorted({r["exit_reason"] for r in rows})
    return {
        "side": [1 if r["side"] == "long" else -1 for r in rows],
        "entry_time": [int(result.time[r["entry_index"]]) // 1000 for r in rows],
        "exit_time": [int(result.time[r["exit_index"]]) // 1000 for r in rows],
        "entry_price": [float(f"{r['entry_price']:.8g}") for r in rows],
        "exit_price": [float(f"{r['exit_price']:.8g}") for r in rows],
        "pnl": [round(r["pnl"], 2) for r in rows],
        "return": [round(r["return"], 5) for r in rows],
        "reason": [reasons.index(r["exit_reason"]) for r in rows],
        "reasons": reasons,
    }


async def _candles_of(context: AppContext, stored: StoredBacktest) -> Candles:
    # Local: a CLI run may hold more bars than a tool may ask for
    data = await context.candles.load(LocalDataSpec.model_validate(stored.request["data"]))
    if data.fingerprint != stored.request.get("fingerprint"):
        raise ResultNotFoundError(
            f"backtest {stored.id} ran on data that no longer loads the same way"
        )
    return data.candles


def _curves(
    result: E.BacktestResult, candles: Candles, starts: npt.NDArray[np.int64], init: float
) -> dict[str, list[Any]]:
    """Equity and buy-and-hold at each drawn bar's close, and its deepest drawdown."""
    if len(candles) == 0:
        return {"equity": [], "drawdown": [], "buy_hold": []}
    deepest = np.maximum.reduceat(result.drawdown(), starts)
    return {
        "equity": _money(_last(result.equity.astype(np.float64), starts)),
        "drawdown": [round(v, 6) for v in deepest.tolist()],
        "buy_hold": _money(init * _last(candles.close, starts) / float(candles.close[0])),
    }


async def report_data(context: AppContext, backtest_id: str) -> dict[str, Any]:
    """Everything the report view draws for backtest `backtest_id` (JSON-safe)."""
    stored = await context.results.get(backtest_id)
    result = stored.result
    assert result is not None  # get() rebuilds it
    candles = await _candles_of(context, stored)
    starts = bucket_starts(len(candles))
    s = stored.summary
    init = float(
        s["config"].get("initial_capital", result.equity[0] if result.equity.size else 1.0)
    )
    return {
        "kind": "report",
        "id": stored.id,
        "strategy": s["strategy"],
        "params": dict(s["params"]),
        "symbol": s["symbol"],
        "interval": s["interval"],
        "source": s.get("source", "sample"),
        "synthetic": bool(s["synthetic"]),
        "bars": len(candles),
        "bucket": int(starts[1] - starts[0]) if len(starts) > 1 else 1,
        "gaps": int(s.get("time_gaps") or 0),
        "metrics": round_json(headline(s["metrics"])),
        "candles": candle_columns(candles, starts),
        **_curves(result, candles, starts, init),
        "trades": _trades(result),
        "notes": list(s.get("warnings", ())),
    }
