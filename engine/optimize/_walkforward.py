"""Walk-forward optimisation: optimise in-sample, test the choice out-of-sample.

Each split optimises on its train slice only (``run_grid`` sees nothing else),
picks the best combination by the objective, then backtests that combination
on the following test slice with :func:`engine.optimize.backtest_window`:
indicators warm up on bars before the test window, but the window starts flat
and only its own bars are scored. Test data therefore never reaches the
choice, and the train data it reads for warm-up lies in the past.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from engine.config import BacktestConfig
from engine.errors import InvalidDataError, InvalidParameterError
from engine.optimize._grid import DEFAULT_MAX_COMBOS, StopFn
from engine.optimize._objectives import Objective
from engine.optimize._overfit import SharpeCI, bootstrap_sharpe_ci, moments, probabilistic_sharpe
from engine.optimize._report import bar_returns
from engine.optimize._run import OptimizationResult, ProgressFn, SearchRun, evaluate
from engine.optimize._search import SearchSpace
from engine.optimize._window import backtest_window, warmup_of
from engine.strategies import ParamValue
from ohlcv import Candles
from ohlcv import format_iso as iso_utc

Mode = Literal["rolling", "anchored"]
OOS_KEYS = ("sharpe", "total_return", "cagr", "max_drawdown", "n_trades", "profit_factor")


@dataclass(frozen=True)
class Split:
    """Bar indices of one split: train ``[train_start, train_end)``, test ``[train_end, test_end)``."""

    index: int
    train_start: int
    train_end: int
    test_end: int

    @property
    def test_start(self) -> int:
        return self.train_end


def make_splits(
    n_bars: int,
    n_splits: int,
    mode: Mode = "rolling",
    *,
    train_bars: int | None = None,
    test_bars: int | None = None,
    ratio: float = 4.0,
) -> list[Split]:
    """Consecutive, non-overlapping test windows that end at the last bar.

    Lengths come from ``train_bars``/``test_bars`` or, when omitted, from
    ``ratio`` = train length / test length so that the splits fill the data.
    ``rolling`` slides a fixed-length train window; ``anchored`` grows it from
    bar 0 (``train_bars`` is then the first split's train length)."""
    if n_splits < 1:
        raise InvalidParameterError(f"n_splits must be >= 1, got {n_splits}")
    if mode not in ("rolling", "anchored"):
        raise InvalidParameterError(f"mode must be 'rolling' or 'anchored', got {mode!r}")
    if ratio <= 0:
        raise InvalidParameterError(f"ratio (train/test length) must be > 0, got {ratio}")
    if test_bars is None:
        test_bars = (int(n_bars / (n_splits + ratio)) if train_bars is None
                     else (n_bars - train_bars) // n_splits)
    if train_bars is None:
        train_bars = int(test_bars * ratio)
    need = train_bars + n_splits * test_bars
    if test_bars < 2 or train_bars < 2 or need > n_bars:
        raise InvalidDataError(
            f"{n_bars:,} bars cannot hold {n_splits} split(s) of {max(train_bars, 0):,} train + "
            f"{max(test_bars, 0):,} test bars (need {max(need, 4 * n_splits):,}); load more history, "
            "use fewer splits, or shorter train/test windows"
        )
    offset = n_bars - need  # the most recent data is always tested
    splits = []
    for k in range(n_splits):
        train_end = offset + train_bars + k * test_bars
        start = offset if mode == "anchored" else train_end - train_bars
        splits.append(Split(k, start, train_end, train_end + test_bars))
    return splits


@dataclass
class SplitResult:
    """One split: its windows, the in-sample search and the out-of-sample test."""

    split: Split
    params: dict[str, ParamValue] | None
    is_score: float | None
    is_metrics: dict[str, Any] | None
    oos_metrics: dict[str, Any] | None
    search: OptimizationResult | None  # None when the split ran elsewhere (a job's task)
    oos_equity: npt.NDArray[np.float64]
    note: str = ""

    def row(self, time_ms: npt.NDArray[np.int64]) -> dict[str, Any]:
        """One line of the per-split table."""
        s = self.split
        return {
            "split": s.index + 1,
            "train": [iso_utc(int(time_ms[s.train_start])), iso_utc(int(time_ms[s.train_end - 1]))],
            "test": [iso_utc(int(time_ms[s.test_start])), iso_utc(int(time_ms[s.test_end - 1]))],
            "train_bars": s.train_end - s.train_start,
            "test_bars": s.test_end - s.test_start,
            "params": self.params,
            "is_score": self.is_score,
            "is": {k: (self.is_metrics or {}).get(k) for k in OOS_KEYS},
            "oos": {k: (self.oos_metrics or {}).get(k) for k in OOS_KEYS},
            "note": self.note,
        }


@dataclass
class WalkForwardResult:
    """Per-split results, stitched out-of-sample equity and the summary statistics."""

    strategy: str
    mode: Mode
    objective: Objective
    splits: list[SplitResult]
    oos_time: npt.NDArray[np.int64]
    oos_equity: npt.NDArray[np.float64]
    oos_metrics: dict[str, Any]
    efficiency: dict[str, float | None]
    stability: dict[str, dict[str, Any]]
    oos_psr: float | None
    oos_sharpe_ci: SharpeCI | None
    time_ms: npt.NDArray[np.int64]
    elapsed_s: float
    cancelled: bool = False
    notes: list[str] = field(default_factory=list)

    def table(self) -> list[dict[str, Any]]:
        return [s.row(self.time_ms) for s in self.splits]

    def summary(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "mode": self.mode,
            "objective": self.objective.to_dict(),
            "n_splits": len(self.splits),
            "cancelled": self.cancelled,
            "elapsed_s": round(self.elapsed_s, 4),
            "oos": self.oos_metrics,
            "efficiency": self.efficiency,
            "stability": self.stability,
            "oos_psr": self.oos_psr,
            "oos_sharpe_ci": None if self.oos_sharpe_ci is None else self.oos_sharpe_ci.to_dict(),
            "splits": self.table(),
            "notes": list(self.notes),
        }


def walk_forward(
    candles: Candles,
    space: SearchSpace,
    objective: str | Objective | Mapping[str, float] = "sharpe",
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    n_splits: int = 5,
    mode: Mode = "rolling",
    train_bars: int | None = None,
    test_bars: int | None = None,
    ratio: float = 4.0,
    min_trades: int = 0,
    combos: Sequence[Mapping[str, ParamValue]] | None = None,
    max_combos: int = DEFAULT_MAX_COMBOS,
    allow_large: bool = False,
    warmup_bars: int | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> WalkForwardResult:
    """Walk-forward optimisation of ``space`` (its full grid, or ``combos``)."""
    run, splits, trials = walk_forward_plan(
        candles, space, objective, config, n_splits=n_splits, mode=mode, train_bars=train_bars,
        test_bars=test_bars, ratio=ratio, min_trades=min_trades, combos=combos,
        max_combos=max_combos, allow_large=allow_large, should_stop=should_stop,
    )  # fmt: skip
    results: list[SplitResult] = []
    cancelled = False
    for sp in splits:
        result = run_split(candles, run, sp, trials, len(splits), warmup_bars, progress)
        if result is None:
            cancelled = True
            break
        results.append(result)
    return _assemble(candles, run, mode, results, cancelled, len(splits))


def run_split(candles: Candles, run: SearchRun, sp: Split, trials: list[dict[str, ParamValue]],
              n_splits: int, warmup_bars: int | None,
              progress: ProgressFn | None) -> SplitResult | None:  # fmt: skip
    """One split on its own: optimise in-sample, test the best out of sample (None when
    cancelled). Splits share nothing, so they may run anywhere, in any order."""
    phase = f"split {sp.index + 1}/{n_splits}"

    def split_progress(done: int, total: int, _: str) -> None:
        if progress is not None:
            progress(done, total, phase)

    train = candles.slice(sp.train_start, sp.train_end)
    split_run = replace(run, progress=split_progress, started=time.perf_counter())
    search = evaluate(train, trials, split_run, method="grid")
    if search.cancelled:
        return None
    return _test_split(candles, run.space, sp, search, run.config, warmup_bars)


def walk_forward_plan(
    candles: Candles,
    space: SearchSpace,
    objective: str | Objective | Mapping[str, float] = "sharpe",
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    min_trades: int = 0,
    combos: Sequence[Mapping[str, ParamValue]] | None = None,
    max_combos: int = DEFAULT_MAX_COMBOS,
    allow_large: bool = False,
    should_stop: StopFn | None = None,
    **split: Any,
) -> tuple[SearchRun, list[Split], list[dict[str, ParamValue]]]:
    """What `walk_forward` checks and prepares before its splits: the shared run settings,
    the splits and the trials, so each split can run as a separate task (`run_split`) and
    `assemble_walk_forward` gives the same result as one `walk_forward` call. ``split``:
    `make_splits`' options (n_splits, mode, train_bars, test_bars, ratio)."""
    # the in-sample searches: no overfitting report (the out-of-sample test is the check)
    run = SearchRun.begin(space, objective, min_trades, config, progress=None,
                          should_stop=should_stop, chunk_seconds=0.25, overfit=False,
                          n_blocks=16, seed=0)  # fmt: skip
    splits = make_splits(len(candles), **split)
    trials = [dict(c) for c in combos] if combos is not None else space.expand(
        max_combos=max_combos, allow_large=allow_large)  # fmt: skip
    _check_warmup(space, trials, candles, splits)
    return run, splits, trials


def assemble_walk_forward(candles: Candles, run: SearchRun, mode: Mode,
                          results: list[SplitResult], planned: int) -> WalkForwardResult:  # fmt: skip
    """The walk-forward result of split results in split order (`cancelled` when some
    are missing)."""
    return _assemble(candles, run, mode, results, len(results) < planned, planned)


def _check_warmup(space: SearchSpace, trials: list[dict[str, ParamValue]], candles: Candles,
                  splits: list[Split]) -> None:
    longest = max(warmup_of(space.strategy, t, candles) for t in trials)
    shortest = min(s.train_end - s.train_start for s in splits)
    if longest >= shortest - 1:
        raise InvalidDataError(
            f"the longest warm-up ({longest} bars) does not fit the {shortest}-bar train window; "
            "load more history, use fewer splits, a larger train window, or shorter indicator windows"
        )


def _test_split(candles: Candles, space: SearchSpace, sp: Split, search: OptimizationResult,
                cfg: BacktestConfig, warmup_bars: int | None) -> SplitResult:
    best = search.best_index
    if best is None:
        flat = np.full(sp.test_end - sp.test_start, cfg.initial_capital)
        return SplitResult(sp, None, None, None, None, search, flat,
                           note="no combination met the objective in-sample: flat out of sample")
    params = search.combos[best]
    oos = backtest_window(candles, space.strategy, params, cfg, sp.test_start, sp.test_end,
                          warmup_bars=warmup_bars)
    return SplitResult(sp, dict(params), float(search.scores[best]), search.metrics[best],
                       oos.metrics, search, oos.equity)


def stitch(equities: Sequence[npt.NDArray[np.float64]], initial_capital: float) -> npt.NDArray[np.float64]:
    """Chain per-split equity curves (each starting at ``initial_capital``) into one,
    each split compounding on where the previous one ended."""
    out = []
    capital = initial_capital
    for eq in equities:
        scaled = np.asarray(eq, dtype=float) * (capital / initial_capital)
        out.append(scaled)
        if scaled.size:
            capital = float(scaled[-1])
    return np.concatenate(out) if out else np.zeros(0)


def curve_metrics(equity: npt.NDArray[np.float64], initial_capital: float, ppy: float) -> dict[str, Any]:
    """Return, CAGR, Sharpe and max drawdown of an equity curve (same definitions as the engine)."""
    if equity.size == 0:
        return {"total_return": None, "cagr": None, "sharpe": None, "max_drawdown": None}
    r = bar_returns(equity, initial_capital)
    mean, std, _, _ = moments(r)
    growth = float(equity[-1] / initial_capital)
    years = equity.size / ppy
    peak = np.maximum.accumulate(np.concatenate(([initial_capital], equity)))[1:]
    return {
        "total_return": growth - 1.0,
        "cagr": (growth ** (1 / years) - 1.0) if growth > 0 and years > 0 else -1.0,
        "sharpe": mean / std * math.sqrt(ppy) if std > 0 else None,
        "max_drawdown": float(np.max(1.0 - equity / peak)),
    }


def efficiency(results: Sequence[SplitResult]) -> dict[str, float | None]:
    """Walk-forward efficiency: mean annualised OOS performance / mean IS performance."""
    out: dict[str, float | None] = {}
    for key in ("cagr", "sharpe"):
        pairs = [(r.is_metrics[key], r.oos_metrics[key]) for r in results
                 if r.is_metrics and r.oos_metrics
                 and r.is_metrics.get(key) is not None and r.oos_metrics.get(key) is not None]
        if not pairs:
            out[key] = None
            continue
        is_mean = float(np.mean([p[0] for p in pairs]))
        oos_mean = float(np.mean([p[1] for p in pairs]))
        # a ratio against a losing or flat in-sample result has no meaning
        out[key] = oos_mean / is_mean if is_mean > 0 else None
    return {"wfe_cagr": out["cagr"], "wfe_sharpe": out["sharpe"]}


def efficiency_reasons(results: Sequence[SplitResult], wfe: Mapping[str, float | None]) -> list[str]:
    """Why each walk-forward efficiency that is null is null."""
    out = []
    for key, metric in (("wfe_sharpe", "sharpe"), ("wfe_cagr", "cagr")):
        if wfe.get(key) is not None:
            continue
        ins = [r.is_metrics.get(metric) for r in results if r.is_metrics]
        known = [float(v) for v in ins if v is not None]
        if not known:
            why = f"no split has an in-sample {metric} (no trades or flat equity)"
        else:
            why = (f"the mean in-sample {metric} is {np.mean(known):.3g} <= 0: a ratio to a "
                   "losing in-sample result means nothing (the in-sample fits already lose)")
        out.append(f"{key} is null: {why}")
    return out


def stability(space: SearchSpace, results: Sequence[SplitResult]) -> dict[str, dict[str, Any]]:
    """Per varied parameter: chosen values, their spread relative to the searched
    range, and how often the most common value was chosen."""
    chosen = [r.params for r in results if r.params]
    out: dict[str, dict[str, Any]] = {}
    for name, (low, high) in space.bounds().items():
        vals = [float(p[name]) for p in chosen]
        if not vals:
            continue
        span = high - low
        std = float(np.std(vals))
        mode_share = max(vals.count(v) for v in vals) / len(vals)
        out[name] = {
            "values": vals,
            "mean": float(np.mean(vals)),
            "std": std,
            "std_of_range": std / span if span > 0 else 0.0,
            "distinct": len(set(vals)),
            "mode_share": mode_share,
        }
    return out


def _assemble(candles: Candles, run: SearchRun, mode: Mode, results: list[SplitResult],
              cancelled: bool, planned: int) -> WalkForwardResult:
    ppy = candles.periods_per_year
    init = run.config.initial_capital
    equity = stitch([r.oos_equity for r in results], init)
    times = (np.concatenate([candles.time[r.split.test_start:r.split.test_end] for r in results])
             if results else np.zeros(0, dtype=np.int64))
    om = curve_metrics(equity, init, ppy)
    om["n_trades"] = sum(int((r.oos_metrics or {}).get("n_trades") or 0) for r in results)
    psr: float | None = None
    ci: SharpeCI | None = None
    notes: list[str] = []
    if equity.size >= 4:
        rets = bar_returns(equity, init)
        mean, std, skew, kurt = moments(rets)
        if std > 0:
            p = probabilistic_sharpe(mean / std, 0.0, rets.size, skew, kurt)
            psr = p if math.isfinite(p) else None
            ci = bootstrap_sharpe_ci(rets, periods_per_year=ppy)
    if cancelled:
        notes.append(f"cancelled after {len(results)} of {planned} splits; results cover those")
    wfe = efficiency(results)
    notes += efficiency_reasons(results, wfe)
    if psr is None:
        notes.append("oos_psr is null: the stitched out-of-sample equity never moved (no trades)"
                     if equity.size >= 4 else "oos_psr is null: fewer than 4 out-of-sample bars")
    return WalkForwardResult(
        strategy=run.space.strategy.name, mode=mode, objective=run.objective, splits=results,
        oos_time=times, oos_equity=equity, oos_metrics=om, efficiency=wfe,
        stability=stability(run.space, results), oos_psr=psr, oos_sharpe_ci=ci,
        time_ms=candles.time, elapsed_s=time.perf_counter() - run.started,
        cancelled=cancelled, notes=notes,
    )
