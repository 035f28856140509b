"""The overfitting report attached to every optimisation run.

Given the trials an optimiser evaluated on some candles, it computes:
* the deflated Sharpe ratio of the best trial (its skew and kurtosis from its
  own bar returns, the variance of Sharpe across all trials, N = trials);
* PBO by CSCV, from each trial's returns on S contiguous blocks of the data.
  The grid kernel streams statistics instead of equity curves, so each block
  is run as its own grid (a backtest of that period, starting flat with
  indicators warmed inside the block); Sharpe of a union of blocks is exact
  from the blocks' return sums. This costs one more pass over the data;
* a block-bootstrap confidence interval of the best trial's Sharpe.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from engine._nb.enums import S_N_BARS, S_RET_SQ_BARS, S_RET_SUM_BARS
from engine.backtest import backtest, make_config
from engine.config import BacktestConfig
from engine.errors import InvalidDataError
from engine.optimize._grid import StopFn, run_grid, split_params
from engine.optimize._overfit import (
    PBOResult,
    SharpeCI,
    bootstrap_sharpe_ci,
    deflated_sharpe,
    expected_max_sharpe,
    moments,
    pbo_from_block_stats,
)
from engine.strategies import ParamValue, Strategy
from ohlcv import Candles


@dataclass
class OverfitReport:
    """Overfitting statistics of one optimisation (None where not computable)."""

    n_trials: int
    best_sharpe: float | None
    expected_max_sharpe: float | None  # annualised SR0 of N unskilled trials
    deflated_sharpe: float | None  # probability the best trial's true Sharpe > 0 after N trials
    sharpe_ci: SharpeCI | None
    pbo: PBOResult | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Every field in order, the interval and PBO as their own dicts."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("sharpe_ci", "pbo"):
            out[key] = None if out[key] is None else out[key].to_dict()
        out["notes"] = list(self.notes)
        return out


_FEW_TRADES = 30


def _caveats(metrics: Sequence[Mapping[str, Any]]) -> list[str]:
    """Plain words on what the overfitting statistics cannot say for these trials: PBO
    ranks trials against each other, so a low PBO among losers is no good news."""
    out = []
    returns = [m.get("total_return") for m in metrics]
    if metrics and all(r is not None and r <= 0 for r in returns):
        out.append(
            "every combination lost money: a low PBO only says the ranking among losers is "
            "stable, and the deflated Sharpe tests a losing best; none of it is evidence of an edge"
        )
    trades = [int(m.get("n_trades") or 0) for m in metrics]
    if trades and max(trades) < _FEW_TRADES:
        out.append(
            f"no combination made {_FEW_TRADES} trades (at most {max(trades)}): Sharpe, its "
            "deflation and PBO rest on too few trades to mean much"
        )
    return out


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def bar_returns(equity: np.ndarray, initial_capital: float) -> np.ndarray:
    """Per-bar returns of an equity curve marked at each close, from the start capital."""
    eq = np.concatenate(([initial_capital], np.asarray(equity, dtype=float)))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = eq[1:] / eq[:-1] - 1.0
    return np.where(np.isfinite(r), r, 0.0)


def block_stats(
    candles: Candles,
    strategy: Strategy,
    combos: Sequence[Mapping[str, ParamValue]],
    config: BacktestConfig,
    n_blocks: int,
    should_stop: StopFn | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(sums, squares, counts), each (blocks x trials), of every trial's bar returns
    per block; None when cancelled."""
    n = len(candles)
    edges = np.linspace(0, n, n_blocks + 1).astype(int)
    sums = np.empty((n_blocks, len(combos)))
    sq = np.empty_like(sums)
    cnt = np.empty_like(sums)
    for b in range(n_blocks):
        g = run_grid(candles.slice(edges[b], edges[b + 1]), strategy, list(combos), config,
                     should_stop=should_stop)
        if g.cancelled:
            return None
        sums[b] = g.stats[:, S_RET_SUM_BARS]
        sq[b] = g.stats[:, S_RET_SQ_BARS]
        cnt[b] = g.stats[:, S_N_BARS]
    return sums, sq, cnt


def overfit_report(
    candles: Candles,
    strategy: Strategy,
    combos: Sequence[Mapping[str, ParamValue]],
    metrics: Sequence[Mapping[str, Any]],
    best_index: int | None,
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    n_blocks: int = 16,
    n_boot: int = 2000,
    seed: int = 0,
    should_stop: StopFn | None = None,
) -> OverfitReport:
    """Deflated Sharpe, PBO and the bootstrap CI for one set of evaluated trials."""
    cfg = make_config(config)
    ppy = candles.periods_per_year
    ann = math.sqrt(ppy)
    n_trials = len(combos)
    notes: list[str] = []
    srs = np.array([m["sharpe"] for m in metrics if m.get("sharpe") is not None], dtype=float) / ann
    var_sr = float(np.var(srs, ddof=1)) if srs.size > 1 else 0.0
    sr0 = expected_max_sharpe(n_trials, var_sr)
    report = OverfitReport(n_trials, None, _finite(sr0 * ann), None, None, None, notes)
    notes += _caveats(metrics)
    if best_index is not None:
        strat_params, risk = split_params(combos[best_index])
        best = backtest(candles, strategy, strat_params, make_config(cfg, **risk))
        r = bar_returns(best.equity, cfg.initial_capital)
        mean, std, skew, kurt = moments(r)
        if std > 0:
            sr = mean / std
            report.best_sharpe = sr * ann
            report.deflated_sharpe = _finite(deflated_sharpe(sr, n_trials, var_sr, r.size, skew, kurt))
            report.sharpe_ci = bootstrap_sharpe_ci(r, periods_per_year=ppy, n_boot=n_boot, seed=seed)
        else:
            notes.append("the best trial never changed equity: no Sharpe to deflate")
    else:
        notes.append("no trial met the objective: no best trial to test")
    if n_trials < 2:
        notes.append("PBO needs at least 2 trials")
        return report
    s = n_blocks - n_blocks % 2
    while s >= 2:
        try:
            stats = block_stats(candles, strategy, combos, cfg, s, should_stop)
        except InvalidDataError:
            s -= 2  # a block shorter than the longest warm-up: use fewer, longer blocks
            continue
        if stats is None:
            notes.append("cancelled before PBO finished")
        else:
            report.pbo = pbo_from_block_stats(*stats)
            if s != n_blocks:
                notes.append(f"PBO used {s} blocks (blocks must outlast the longest warm-up)")
        return report
    notes.append("too little data to split into CSCV blocks longer than the warm-up: PBO skipped")
    return report
