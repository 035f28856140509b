"""Warnings for likely mistakes in a backtest's set-up and for results that cannot mean
much. A run still happens: the warning travels with its result, so the reader (a person
or a calling model) sees the cause next to the number it explains."""

from __future__ import annotations

import numpy as np

from engine.config import BacktestConfig
from engine.result import BacktestResult
from ohlcv import format_minute

__all__ = ["config_warnings", "result_warnings"]

# At or above 1 % per fill a fee or slippage is almost always a percentage typed as a
# fraction (0.055 meant as 0.055 %): Bybit's highest taker fee is 0.1 %.
_RATE_LIMIT = 0.01
_RUIN = 0.01


def config_warnings(config: BacktestConfig, first_price: float) -> list[str]:
    """What in `config` is likely not what the user meant, priced at `first_price`."""
    out = []
    for name in ("fee", "maker_fee", "slippage"):
        rate = getattr(config, name)
        if rate is not None and rate >= _RATE_LIMIT:
            out.append(
                f"{name}={rate:g} is {rate * 100:g} % per fill: rates are fractions "
                f"(0.00055 = 0.055 %); for {rate:g} % pass {name}={rate / 100:g}."
            )
    notional = _fixed_notional(config, first_price)
    budget = config.initial_capital * config.leverage
    if notional is not None and notional > budget:
        out.append(
            f"A {config.size_mode} order of size {config.size:g} is worth about "
            f"{notional:,.2f} at the first price, more than equity x leverage "
            f"({budget:,.2f}): raise initial_capital or leverage, or use "
            "size_mode='equity_fraction' with size=1."
        )
    return out


def _fixed_notional(config: BacktestConfig, price: float) -> float | None:
    if config.size_mode == "fixed_qty":
        return config.size * price
    if config.size_mode == "fixed_notional":
        return config.size
    return None


def result_warnings(result: BacktestResult) -> list[str]:
    """What in a finished run says its metrics describe a broken set-up."""
    m = result.metrics
    gone = int(m.get("n_skipped_no_equity") or 0)
    if gone == 0:
        return _ruined(result)
    when = result.equity_gone_time
    at = f" by {format_minute(when)} UTC" if when is not None else ""
    return [
        f"Equity was exhausted{at}: {gone} order(s) could not be placed for lack of capital, "
        "so the rest of the run trades nothing. Check fee, size and leverage."
    ]


def _ruined(result: BacktestResult) -> list[str]:
    """Equity that fell to almost nothing without ever refusing an order (sizes shrink
    with equity): say when, since every later number describes a dead account."""
    init = float(result.config.get("initial_capital") or 0.0)
    if init <= 0 or result.equity.size == 0:
        return []
    below = np.flatnonzero(result.equity <= init * _RUIN)
    if below.size == 0:
        return []
    when = format_minute(int(result.time[below[0]]))
    return [
        f"Equity fell below {_RUIN:.0%} of the initial capital by {when} UTC: the metrics "
        "after that describe an account with nothing left. Check fee, size and leverage."
    ]
