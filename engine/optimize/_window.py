"""Backtest one window of the data with indicators warmed up on the bars before it.

Walk-forward tests need the chosen parameters' result on the test window
alone: indicators must be warm when the window opens (else every split starts
with a warm-up artefact) but nothing before the window may trade or be scored.
So the indicator lines and signals are computed on ``[start - warmup_bars,
stop)``, the signals before ``start`` are dropped, and the window's own candles
are backtested with those signals: the position is flat when the window opens,
its metrics cover exactly ``[start, stop)``, and since every line is causal
nothing at or after ``stop`` is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine._nb.backtest_nb import SIG_LE, SIG_LX, SIG_SE, SIG_SX
from engine.backtest import backtest_signals, make_config, plan_signals
from engine.config import BacktestConfig
from engine.errors import InvalidDataError
from engine.optimize._grid import split_params
from engine.result import BacktestResult
from engine.strategies import LineTable, ParamValue, Strategy, get_strategy
from ohlcv import Candles


def warmup_of(strategy: Strategy, params: Mapping[str, ParamValue], candles: Candles) -> int:
    """Bars the strategy needs before its first signal with these parameters."""
    strat_params, _ = split_params(params)
    return strategy.plan(LineTable(candles.slice(0, 2)), strategy.resolve_params(strat_params)).warmup


def backtest_window(
    candles: Candles,
    strategy: str | Strategy,
    params: Mapping[str, ParamValue],
    config: BacktestConfig | Mapping[str, Any] | None,
    start: int,
    stop: int,
    *,
    warmup_bars: int | None = None,
) -> BacktestResult:
    """Backtest bars ``[start, stop)`` of ``candles``, indicators warmed on up to
    ``warmup_bars`` earlier bars (default: 3x the strategy's warm-up, enough for
    an EMA's seed to weigh < 0.3 %)."""
    strat = strategy if isinstance(strategy, Strategy) else get_strategy(strategy)
    strat_params, risk = split_params(params)
    resolved = strat.resolve_params(strat_params)
    if not 0 <= start < stop <= len(candles):
        raise InvalidDataError(f"window [{start}, {stop}) is outside the {len(candles)} bars")
    if stop - start < 2:
        raise InvalidDataError(f"window [{start}, {stop}) has fewer than 2 bars; make it longer")
    need = warmup_of(strat, resolved, candles)
    lead = min(start, 3 * need + 1 if warmup_bars is None else warmup_bars)
    ext = candles.slice(start - lead, stop)
    table = LineTable(ext)
    plan = strat.plan(table, resolved)
    sig = plan_signals(plan, table.build())[lead:]
    cfg = make_config(config, **risk)
    result = backtest_signals(
        candles.slice(start, stop),
        (sig & SIG_LE) != 0, (sig & SIG_LX) != 0, (sig & SIG_SE) != 0, (sig & SIG_SX) != 0,
        cfg, warmup=0,
    )
    result.strategy = strat.name
    result.params = {**resolved, **risk}
    result.extra["warmup_bars"] = lead
    return result
