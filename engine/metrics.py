"""One flat mapping of documented metric keys, JSON-safe (NaN and inf become None).

Every key comes from the statistics the kernel streams while it simulates, so a
grid combination and a single backtest of the same parameters report exactly
the same numbers, and a grid never needs an equity curve in memory.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from engine._nb import enums as E

#: Every metric key with its meaning. The README documents each (a test checks).
METRIC_DOCS: dict[str, str] = {
    "total_return": "final_equity / initial_capital - 1",
    "cagr": "compound annual growth rate over a 365-day year: (final/initial)^(1/years) - 1",
    "final_equity": "equity at the last close (an open position marked to it)",
    "buy_and_hold_return": "last close / first close - 1",
    "exposure": "fraction of bars with a position open at some time during the bar",
    "fees_paid": "total fees paid on all fills",
    "funding_paid": "total funding paid (negative = received)",
    "max_drawdown": "max over bars of 1 - equity / running peak of equity (bar closes)",
    "max_drawdown_duration": "longest stretch, in bars, from an equity peak until it is regained",
    "volatility_ann": "sample standard deviation of per-bar returns x sqrt(periods_per_year)",
    "ulcer_index": "root mean square of the drawdown fraction over all bars",
    "sharpe": "mean / sample std of per-bar returns x sqrt(periods_per_year), risk-free 0",
    "sortino": "mean per-bar return / downside deviation (target 0, over all bars) x sqrt(periods_per_year)",
    "calmar": "cagr / max_drawdown",
    "sharpe_daily": "Sharpe of daily (UTC) equity returns x sqrt(365), comparable with backtesting.py",
    "n_trades": "number of closed trades, including one still open at the end",
    "win_rate": "fraction of trades with positive PnL",
    "profit_factor": "gross profit / gross loss of trade PnL (net of fees and funding)",
    "expectancy": "mean PnL per trade, in quote currency",
    "expectancy_return": "mean return per trade (PnL / entry notional)",
    "avg_win": "mean PnL of winning trades",
    "avg_loss": "mean PnL of losing trades (negative)",
    "payoff_ratio": "avg_win / |avg_loss|",
    "best_trade": "highest trade return",
    "worst_trade": "lowest trade return",
    "avg_trade_duration": "mean bars from entry to exit",
    "max_consecutive_losses": "longest run of trades with PnL <= 0",
    "sqn": "system quality number: sqrt(n_trades) x mean PnL / sample std of PnL",
    "exits_signal": "trades closed by a strategy signal",
    "exits_sl": "trades closed by the stop-loss",
    "exits_tp": "trades closed by the take-profit",
    "exits_trail": "trades closed by the trailing stop",
    "exits_liquidation": "trades closed by isolated-margin liquidation",
    "exits_end": "trades still open at the last bar (closed there for the metrics)",
    "n_ambiguous_bars": "bars that touched both stop and take-profit (resolved by same_bar)",
    "n_skipped_orders": "orders not filled: n_skipped_no_equity + n_skipped_min_qty",
    "n_skipped_no_equity": "orders not placed because the equity was gone",
    "n_skipped_min_qty": "orders not placed because the size rounded below min_qty",
}

METRIC_KEYS: tuple[str, ...] = tuple(METRIC_DOCS)

def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _ratio(a: float, b: float) -> float | None:
    return _num(a / b) if b != 0 else None


def _cagr(growth: float, years: float) -> float | None:
    if growth <= 0.0:
        return -1.0
    if years <= 0.0:
        return None
    exponent = math.log(growth) / years
    return math.expm1(exponent) if exponent < 700 else None  # beyond float range: undefined


def _mean_std(total: float, squares: float, count: float) -> tuple[float, float]:
    """Mean and sample standard deviation from streamed sums. Per-bar returns
    have a mean far below their spread, so the sums do not cancel; the clamp
    only absorbs rounding on a flat curve, where the true value is 0."""
    if count < 2:
        return (total / count if count > 0 else 0.0), 0.0
    mean = total / count
    var = max(0.0, (squares - total * mean) / (count - 1))
    return mean, math.sqrt(var)


def metrics_from_stats(
    stats: npt.NDArray[np.float64],
    *,
    initial_capital: float,
    periods_per_year: float,
    buy_and_hold_return: float | None,
) -> dict[str, Any]:
    """The metric mapping from one vector of streamed kernel statistics."""
    s = stats
    n_bars = s[E.S_N_BARS]
    final = s[E.S_FINAL_EQUITY]
    n = int(s[E.S_N_TRADES])
    wins = s[E.S_N_WINS]
    losses = s[E.S_N_LOSSES]
    years = n_bars / periods_per_year if periods_per_year > 0 else 0.0
    growth = final / initial_capital
    cagr = _cagr(float(growth), years)
    mean, std = _mean_std(s[E.S_RET_SUM_BARS], s[E.S_RET_SQ_BARS], n_bars)
    days = s[E.S_DAYS]
    d_mean, d_std = _mean_std(s[E.S_DAY_RET_SUM], s[E.S_DAY_RET_SQ], days)
    ann = math.sqrt(periods_per_year)
    downside = math.sqrt(s[E.S_DOWN_SQ] / n_bars) if n_bars > 0 else 0.0
    max_dd = s[E.S_MAX_DD]
    avg_win = s[E.S_WIN_PNL_SUM] / wins if wins else None
    avg_loss = s[E.S_LOSS_PNL_SUM] / losses if losses else None
    pnl_std = math.sqrt(s[E.S_PNL_M2] / (n - 1)) if n > 1 else 0.0
    out: dict[str, Any] = {
        "total_return": _num(growth - 1.0),
        "cagr": _num(cagr),
        "final_equity": _num(final),
        "buy_and_hold_return": _num(buy_and_hold_return),
        "exposure": _ratio(s[E.S_EXPOSURE_BARS], n_bars),
        "fees_paid": _num(s[E.S_FEES]),
        "funding_paid": _num(s[E.S_FUNDING]),
        "max_drawdown": _num(max_dd),
        "max_drawdown_duration": int(s[E.S_MAX_DD_DURATION]),
        "volatility_ann": _num(std * ann),
        "ulcer_index": _num(math.sqrt(s[E.S_DD_SQ] / n_bars)) if n_bars > 0 else None,
        "sharpe": _num(mean / std * ann) if std > 0 else None,
        "sortino": _num(mean / downside * ann) if downside > 0 else None,
        "calmar": _num(cagr / max_dd) if (cagr is not None and max_dd > 0) else None,
        "sharpe_daily": _num(d_mean / d_std * math.sqrt(365.0)) if d_std > 0 else None,
        "n_trades": n,
        "win_rate": _ratio(wins, n),
        "profit_factor": _ratio(s[E.S_GROSS_PROFIT], s[E.S_GROSS_LOSS]),
        "expectancy": _num(s[E.S_PNL_MEAN]) if n else None,
        "expectancy_return": _ratio(s[E.S_RET_SUM], n),
        "avg_win": _num(avg_win),
        "avg_loss": _num(avg_loss),
        "payoff_ratio": _num(avg_win / abs(avg_loss)) if (avg_win is not None and avg_loss) else None,
        "best_trade": _num(s[E.S_BEST_RET]) if n else None,
        "worst_trade": _num(s[E.S_WORST_RET]) if n else None,
        "avg_trade_duration": _ratio(s[E.S_DURATION_SUM], n),
        "max_consecutive_losses": int(s[E.S_MAX_CONSEC_LOSSES]),
        "sqn": _num(math.sqrt(n) * s[E.S_PNL_MEAN] / pnl_std) if pnl_std > 0 else None,
        **{f"exits_{name}": int(s[E.S_EXITS_BASE + code]) for code, name in enumerate(E.EXIT_NAMES)},
        "n_ambiguous_bars": int(s[E.S_N_AMBIGUOUS]),
        "n_skipped_orders": int(s[E.S_N_SKIPPED]),
        "n_skipped_no_equity": int(s[E.S_N_SKIPPED_NO_EQUITY]),
        "n_skipped_min_qty": int(s[E.S_N_SKIPPED] - s[E.S_N_SKIPPED_NO_EQUITY]),
    }
    return {k: out[k] for k in METRIC_KEYS}
