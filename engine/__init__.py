"""Backtest engine: numba kernels on plain arrays, validated at the boundary.

Execution rules are in the README ("Execution semantics"). The engine never does
I/O: callers pass candles in and get results out.
"""

from engine import indicators
from engine.backtest import backtest, backtest_signals, make_config
from engine.bayes import optimize_bayes
from engine.candles import (
    Candles,
    count_time_gaps,
    interval_minutes,
    make_candles,
    validate_candles,
)
from engine.config import BacktestConfig
from engine.errors import (
    EngineError,
    GridTooLargeError,
    InvalidDataError,
    InvalidParameterError,
    UnknownStrategyError,
)
from engine.frames import candles_from_frame
from engine.grid import GridResult, expand_grid, run_grid
from engine.metrics import METRIC_DOCS, METRIC_KEYS
from engine.objectives import Objective, parse_objective
from engine.optimize import OptimizationResult, optimize_grid, optimize_random
from engine.plot import render_equity_png
from engine.precompile import CompileAhead, kernel_cache_is_warm
from engine.resample import VALID_INTERVALS, resample
from engine.result import BacktestResult
from engine.sample import generate_candles, sample_candles
from engine.search_space import ParamRange, SearchSpace, make_space
from engine.strategies import STRATEGIES, ParamSpec, Strategy, get_strategy, list_strategies
from engine.walkforward import WalkForwardResult, make_splits, walk_forward

__all__ = [
    "METRIC_DOCS",
    "METRIC_KEYS",
    "STRATEGIES",
    "VALID_INTERVALS",
    "BacktestConfig",
    "BacktestResult",
    "Candles",
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
    "count_time_gaps",
    "expand_grid",
    "generate_candles",
    "get_strategy",
    "indicators",
    "interval_minutes",
    "kernel_cache_is_warm",
    "list_strategies",
    "make_candles",
    "make_config",
    "make_space",
    "make_splits",
    "optimize_bayes",
    "optimize_grid",
    "optimize_random",
    "parse_objective",
    "render_equity_png",
    "resample",
    "run_grid",
    "sample_candles",
    "validate_candles",
    "walk_forward",
]
