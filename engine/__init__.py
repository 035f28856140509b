"""Backtest engine: numba kernels on plain arrays, validated at the boundary.

Execution rules are in the README ("Execution semantics"). The engine never does
I/O: callers pass candles in and get results out.
"""

from engine import indicators, optimize
from engine.backtest import backtest, backtest_signals, make_config
from engine.candles import count_time_gaps, day_ends, make_candles, validate_candles
from engine.config import BacktestConfig
from engine.errors import (
    EngineError,
    GridTooLargeError,
    InvalidDataError,
    InvalidParameterError,
    UnknownStrategyError,
)
from engine.frames import candles_from_frame
from engine.guards import config_warnings, result_warnings
from engine.metrics import METRIC_DOCS, METRIC_KEYS
from engine.optimize import (
    GridResult,
    Objective,
    OptimizationResult,
    ParamRange,
    SearchSpace,
    WalkForwardResult,
    default_params,
    expand_grid,
    make_space,
    make_splits,
    optimize_bayes,
    optimize_grid,
    optimize_random,
    parse_objective,
    result_heatmap_png,
    run_grid,
    walk_forward,
)
from engine.plot import render_equity_png
from engine.precompile import CompileAhead, kernel_cache_is_warm
from engine.regime import regime_features
from engine.result import BacktestResult
from engine.sample import generate_candles, sample_candles
from engine.strategies import STRATEGIES, ParamSpec, Strategy, get_strategy, list_strategies
from engine.stress import with_gap, with_volatility

__all__ = [
    "METRIC_DOCS",
    "METRIC_KEYS",
    "STRATEGIES",
    "BacktestConfig",
    "BacktestResult",
    "CompileAhead",
    "EngineError",
    "GridResult",
    "GridTooLargeError",
    "InvalidDataError",
    "InvalidParameterError",
    "Objective",
    "OptimizationResult",
    "ParamRange",
    "ParamSpec",
    "SearchSpace",
    "Strategy",
    "UnknownStrategyError",
    "WalkForwardResult",
    "backtest",
    "backtest_signals",
    "candles_from_frame",
    "config_warnings",
    "count_time_gaps",
    "day_ends",
    "default_params",
    "expand_grid",
    "generate_candles",
    "get_strategy",
    "indicators",
    "kernel_cache_is_warm",
    "list_strategies",
    "make_candles",
    "make_config",
    "make_space",
    "make_splits",
    "optimize",
    "optimize_bayes",
    "optimize_grid",
    "optimize_random",
    "parse_objective",
    "regime_features",
    "render_equity_png",
    "result_heatmap_png",
    "result_warnings",
    "run_grid",
    "sample_candles",
    "validate_candles",
    "walk_forward",
    "with_gap",
    "with_volatility",
]
