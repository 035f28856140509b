"""Optimisation: many backtests of one strategy, ranked, tested for overfitting.

Everything public is re-exported here (and the commonly used names again from
`engine`); the modules behind it are private:

* `_grid`: `run_grid`, the parallel kernel over many parameter combinations;
  `expand_grid`, the combinations of a grid mapping.
* `_search`: `SearchSpace` (ranges, lists, user constraints), `make_space`,
  `default_params`.
* `_objectives`: `Objective`, what a search maximises.
* `_run`: `OptimizationResult`; grid and random search (`optimize_grid`,
  `optimize_random`).
* `_distributed`: `chunk_bounds`, `search_combos`, `merge_search`: a grid or random
  search split into chunks run anywhere and merged into exactly the in-process result.
* `_bayes`: `optimize_bayes`, optuna's TPE in parallel batches.
* `_window`: `backtest_window`, one window with indicators warmed up before it.
* `_walkforward`: `walk_forward`, `make_splits`: optimise in-sample, test out of it;
  `walk_forward_plan`, `run_split`, `assemble_walk_forward`: the same, one split per task.
* `_overfit`: deflated Sharpe, PBO by CSCV, bootstrap CI (pure numpy).
* `_report`: `overfit_report`, those statistics for one optimisation's trials.
* `_heatmap`: a PNG heatmap of a result over two parameters.
"""

from engine.optimize._bayes import BatchFn, optimize_bayes
from engine.optimize._distributed import (
    SearchMethod,
    chunk_bounds,
    merge_search,
    search_combos,
)
from engine.optimize._grid import (
    DEFAULT_MAX_COMBOS,
    RISK_KEYS,
    GridResult,
    StopFn,
    expand_grid,
    grid_from_stats,
    run_grid,
)
from engine.optimize._heatmap import render_heatmap_png, result_heatmap_png
from engine.optimize._objectives import OBJECTIVE_METRICS, Objective, parse_objective
from engine.optimize._overfit import (
    PBOResult,
    SharpeCI,
    bootstrap_sharpe_ci,
    deflated_sharpe,
    expected_max_sharpe,
    pbo_cscv,
    pbo_from_block_stats,
    probabilistic_sharpe,
)
from engine.optimize._report import OverfitReport, overfit_report
from engine.optimize._run import OptimizationResult, ProgressFn, optimize_grid, optimize_random
from engine.optimize._search import ParamRange, SearchSpace, default_params, make_space
from engine.optimize._walkforward import (
    Split,
    SplitResult,
    WalkForwardResult,
    assemble_walk_forward,
    make_splits,
    run_split,
    stitch,
    walk_forward,
    walk_forward_plan,
)
from engine.optimize._window import backtest_window

__all__ = [
    "DEFAULT_MAX_COMBOS",
    "OBJECTIVE_METRICS",
    "RISK_KEYS",
    "BatchFn",
    "GridResult",
    "Objective",
    "OptimizationResult",
    "OverfitReport",
    "PBOResult",
    "ParamRange",
    "ProgressFn",
    "SearchMethod",
    "SearchSpace",
    "SharpeCI",
    "Split",
    "SplitResult",
    "StopFn",
    "WalkForwardResult",
    "assemble_walk_forward",
    "backtest_window",
    "bootstrap_sharpe_ci",
    "chunk_bounds",
    "default_params",
    "deflated_sharpe",
    "expand_grid",
    "expected_max_sharpe",
    "grid_from_stats",
    "make_space",
    "make_splits",
    "merge_search",
    "optimize_bayes",
    "optimize_grid",
    "optimize_random",
    "overfit_report",
    "parse_objective",
    "pbo_cscv",
    "pbo_from_block_stats",
    "probabilistic_sharpe",
    "render_heatmap_png",
    "result_heatmap_png",
    "run_grid",
    "run_split",
    "search_combos",
    "stitch",
    "walk_forward",
    "walk_forward_plan",
]
