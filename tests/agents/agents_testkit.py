"""Shared helpers for the agents tests: engine-shaped metrics and fast configs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents import DeepSeekConfig, MCPRouter, PerplexityConfig, RetryConfig, RouterConfig
from agents.config import BreakerConfig

# The `make_router` fixture's type; tests import it from here, since a bare
# `from conftest import ...` resolves to whichever test folder's conftest is first on sys.path.
MakeRouter = Callable[..., MCPRouter]

KEY = "test-key"

# Shaped like engine.metrics output: every documented key, fractions as fractions.
GOOD_METRICS: dict[str, Any] = {
    "total_return": 0.42,
    "cagr": 0.19,
    "final_equity": 14_200.0,
    "buy_and_hold_return": 0.18,
    "exposure": 0.46,
    "fees_paid": 310.0,
    "funding_paid": 12.0,
    "max_drawdown": 0.11,
    "max_drawdown_duration": 2_900,
    "volatility_ann": 0.21,
    "ulcer_index": 0.035,
    "sharpe": 1.6,
    "sortino": 2.4,
    "calmar": 1.73,
    "sharpe_daily": 1.5,
    "n_trades": 214,
    "win_rate": 0.41,
    "profit_factor": 1.62,
    "expectancy": 19.6,
    "expectancy_return": 0.0021,
    "avg_win": 152.0,
    "avg_loss": -73.0,
    "payoff_ratio": 2.08,
    "best_trade": 0.081,
    "worst_trade": -0.031,
    "avg_trade_duration": 37.5,
    "max_consecutive_losses": 7,
    "sqn": 2.6,
    "exits_signal": 120,
    "exits_sl": 60,
    "exits_tp": 33,
    "exits_trail": 0,
    "exits_liquidation": 0,
    "exits_end": 1,
    "n_ambiguous_bars": 3,
    "n_skipped_orders": 0,
    "n_skipped_no_equity": 0,
    "n_skipped_min_qty": 0,
    "equity_exhausted_bar_time": None,
    "n_liquidations": 0,
    "periods_per_year": 525_600,
}

# Few trades, losing after fees that exceed the gross edge, deep drawdown, always in the market.
BAD_METRICS: dict[str, Any] = {
    **GOOD_METRICS,
    "total_return": -0.08,
    "final_equity": 9_200.0,
    "fees_paid": 1_450.0,
    "max_drawdown": 0.41,
    "exposure": 0.985,
    "sharpe": 3.4,
    "n_trades": 14,
    "profit_factor": 0.87,
    "win_rate": 0.35,
    "calmar": None,
    "sortino": None,
    "n_liquidations": 2,
    "exits_liquidation": 2,
    "n_skipped_orders": 3,
    "n_skipped_min_qty": 3,
    "max_consecutive_losses": 12,
}


def fast_retry(attempts: int = 3, deadline: float = 5.0, **kw: Any) -> RetryConfig:
    """Tiny waits so the fault matrix runs in milliseconds."""
    return RetryConfig(
        attempts=attempts,
        wait_initial=0.001,
        wait_max=0.002,
        jitter=0.1,
        attempt_deadline=deadline,
        **kw,
    )


def loopback_config(deepseek_url: str, perplexity_url: str, **kw: Any) -> RouterConfig:
    """Both agents configured against the fake server."""
    kw.setdefault("retry", fast_retry())
    kw.setdefault("breaker", BreakerConfig())
    return RouterConfig(
        deepseek=DeepSeekConfig(api_key=KEY, base_url=deepseek_url),
        perplexity=PerplexityConfig(api_key=KEY, base_url=perplexity_url),
        **kw,
    )
