"""``backtest()``: validate at the boundary, run the kernel, build the result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from engine._nb.backtest_nb import signal_start, signals_nb, simulate_nb
from engine._nb.enums import RULE_CROSS, S_ENDED_OPEN, S_EQUITY_GONE_BAR
from engine.candles import count_time_gaps, day_ends, validate_candles
from engine.config import BacktestConfig, funding_per_bar
from engine.errors import InvalidDataError, InvalidParameterError
from engine.guards import config_warnings, result_warnings
from engine.metrics import metrics_from_stats
from engine.result import BacktestResult
from engine.strategies import LineTable, SignalPlan, Strategy, get_strategy, signals_plan
from ohlcv import Candles


def make_config(config: BacktestConfig | Mapping[str, Any] | None = None, **overrides: Any) -> BacktestConfig:
    """A validated :class:`BacktestConfig` from a model, a mapping and/or keywords.

    Raises :class:`InvalidParameterError` with every problem listed."""
    if isinstance(config, BacktestConfig) and not overrides:
        return config
    base: dict[str, Any] = (
        config.model_dump() if isinstance(config, BacktestConfig) else dict(config or {})
    )
    base.update(overrides)
    try:
        return BacktestConfig(**base)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidParameterError(f"invalid backtest option(s): {problems}") from None


def _check_length(candles: Candles, plan: SignalPlan, name: str) -> None:
    if len(candles) < 2:
        raise InvalidDataError(f"{len(candles)} bar(s) is too few to backtest; pass at least 2 bars")
    if plan.warmup >= len(candles) - 1:
        raise InvalidDataError(
            f"{name} needs more than {plan.warmup + 1} bars to warm up but the data has "
            f"{len(candles)}; load more history or shorten the indicator windows"
        )


_NO_LINE = np.empty(0)
_NO_SIG = np.empty(0, dtype=np.int8)


def plan_signals(plan: SignalPlan, lines: npt.NDArray[np.float64]) -> npt.NDArray[np.int8]:
    """The per-bar signal bitmask of one plan (1 long entry, 2 long exit, 4 short
    entry, 8 short exit), as the kernel reads it."""
    r = plan.rows
    sig = np.empty(lines.shape[1], dtype=np.int8)
    signals_nb(
        lines[r[0]], lines[r[1]], lines[r[2]], lines[r[3]], lines[r[4]],
        plan.rule, plan.rparams, signal_start(plan.rule, plan.warmup), sig,
    )
    return sig


def run_plan(
    candles: Candles,
    plan: SignalPlan,
    table: LineTable,
    config: BacktestConfig,
    *,
    strategy: str,
    params: dict[str, Any],
    funding_series: tuple[np.ndarray, np.ndarray] | None = None,
    validate: bool = True,
) -> BacktestResult:
    """Run the kernel for one prepared plan and assemble the result.

    The table's lines are built only when the kernel needs them: an EMA cross
    is computed inside the kernel."""
    if validate:
        validate_candles(candles)
    _check_length(candles, plan, strategy)
    funding = funding_per_bar(candles.time, config, funding_series)
    has_funding = bool(funding.any())
    start = signal_start(plan.rule, plan.warmup)
    common = (candles.open, candles.high, candles.low, candles.close, funding)
    tail = (start, day_ends(candles), config.float_array(), config.int_array(has_funding), True)
    windows = table.ema_windows(plan)
    n_trades = -1
    if windows is not None:
        stats, equity, trades, n_trades = simulate_nb(
            *common, _NO_SIG, _NO_LINE, _NO_LINE, np.array(windows, dtype=np.float64), *tail
        )
    if n_trades < 0:  # not an EMA cross, or more trades than the kernel's guess: use the lines
        lines = table.build()
        r = plan.rows
        if plan.rule == RULE_CROSS:  # the kernel reads the two lines itself: no signal pass
            sig, xa, xb = _NO_SIG, lines[r[0]], lines[r[1]]
        else:
            sig, xa, xb = plan_signals(plan, lines), _NO_LINE, _NO_LINE
        stats, equity, trades, n_trades = simulate_nb(*common, sig, xa, xb, _NO_LINE, *tail)
    ppy = candles.periods_per_year
    bh = float(candles.close[-1] / candles.close[0] - 1.0) if candles.close[0] > 0 else None
    metrics = metrics_from_stats(
        stats, initial_capital=config.initial_capital, periods_per_year=ppy, buy_and_hold_return=bh
    )
    gone_bar = int(stats[S_EQUITY_GONE_BAR]) - 1
    result = BacktestResult(
        strategy=strategy,
        params=params,
        config=config.model_dump(),
        metrics=metrics,
        equity=equity,
        trades=trades,
        time=candles.time,
        periods_per_year=ppy,
        symbol=candles.symbol,
        interval=candles.interval,
        synthetic=candles.synthetic,
        ended_open=bool(stats[S_ENDED_OPEN]),
        gaps=count_time_gaps(candles),
        equity_gone_time=int(candles.time[gone_bar]) if gone_bar >= 0 else None,
    )
    first = float(candles.open[0]) if len(candles) else 0.0
    result.warnings = (*config_warnings(config, first), *result_warnings(result))
    return result


def backtest(
    candles: Candles,
    strategy: str | Strategy = "ema_cross",
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    funding_series: tuple[np.ndarray, np.ndarray] | None = None,
    **options: Any,
) -> BacktestResult:
    """Backtest a built-in strategy on ``candles``.

    ``params`` overrides the strategy's defaults (validated against its
    parameter spec); ``config`` and keyword ``options`` set execution options
    (see :class:`BacktestConfig`), e.g. ``backtest(c, "ema_cross",
    {"fast": 20, "slow": 50}, sl=0.003, tp=0.006, fee=0.00055)``.
    ``funding_series`` = (event times in ms, rates) replaces a constant rate.
    """
    strat = strategy if isinstance(strategy, Strategy) else get_strategy(strategy)
    cfg = make_config(config, **options)
    resolved = strat.resolve_params(params)
    table = LineTable(candles)
    plan = strat.plan(table, resolved)
    validate_candles(candles)
    _check_length(candles, plan, strat.name)
    return run_plan(
        candles, plan, table, cfg, strategy=strat.name, params=resolved,
        funding_series=funding_series, validate=False,
    )


def backtest_signals(
    candles: Candles,
    long_entry: npt.ArrayLike,
    long_exit: npt.ArrayLike | None = None,
    short_entry: npt.ArrayLike | None = None,
    short_exit: npt.ArrayLike | None = None,
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    warmup: int = 0,
    funding_series: tuple[np.ndarray, np.ndarray] | None = None,
    **options: Any,
) -> BacktestResult:
    """Backtest your own boolean signals (each decided on its bar's close) with
    exactly the same execution rules as the built-in strategies."""
    cfg = make_config(config, **options)
    table = LineTable(candles)
    plan = signals_plan(table, (long_entry, long_exit, short_entry, short_exit), warmup)
    return run_plan(
        candles, plan, table, cfg, strategy="signals", params={"warmup": warmup},
        funding_series=funding_series,
    )
