"""Numbers rounded to what they mean before a client sees them.

`58911.700000000004` or a Sharpe of `-3.1731136925599457` costs a model tokens and
suggests a precision nobody has. Money is shown to the cent, prices without float
noise (to the tick size when known), and ratios, rates and statistics to four
significant digits. Strategy parameters keep every digit that can be typed back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["MONEY_KEYS", "PRICE_KEYS", "round_json", "significant", "to_tick"]

SIGNIFICANT = 4
MONEY_KEYS = frozenset({
    "final_equity", "fees_paid", "funding_paid", "expectancy", "avg_win", "avg_loss", "pnl",
    "fees", "funding", "initial_capital", "equity", "gross_profit", "gross_loss",
})  # fmt: skip
PRICE_KEYS = frozenset({
    "entry_price", "exit_price", "open", "high", "low", "close", "price", "last", "first_price",
})  # fmt: skip
# Values typed back into a call (parameters, configs) or identifying something.
_EXACT_KEYS = frozenset({"params", "config", "best_params", "request", "value_range"})


def significant(x: float, digits: int = SIGNIFICANT) -> float:
    """`x` to `digits` significant digits (NaN and infinities unchanged)."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def to_tick(price: float, tick: float | None) -> float:
    """A price on the tick grid, or without float noise when the tick is unknown."""
    if not math.isfinite(price):
        return price
    if tick:
        decimals = max(0, -math.floor(math.log10(tick) + 1e-9))
        return round(round(price / tick) * tick, decimals)
    return float(f"{price:.10g}")


def round_json(value: Any, *, tick: float | None = None, key: str = "") -> Any:
    """A JSON-like value with every float rounded by the meaning of its key."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return _round_float(value, key, tick)
    if isinstance(value, Mapping):
        return {
            k: (_exact(v) if k in _EXACT_KEYS else round_json(v, tick=tick, key=str(k)))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [round_json(v, tick=tick, key=key) for v in value]
    return value


def _round_float(x: float, key: str, tick: float | None) -> float:
    if key in MONEY_KEYS:
        return round(x, 2)
    if key in PRICE_KEYS:
        return to_tick(x, tick)
    return significant(x)


def _exact(value: Any) -> Any:
    """Typed-back values lose only float noise."""
    if isinstance(value, float) and not isinstance(value, bool):
        return float(f"{value:.12g}") if math.isfinite(value) else value
    if isinstance(value, Mapping):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_exact(v) for v in value]
    return value
