"""Bayesian search (optuna TPE): reproducible with a seed, constraints, pruning, heatmap."""

from __future__ import annotations

import pytest
from optimize_data import random_walk, triangle_wave

import engine
from engine.optimize import make_space, optimize_bayes, optimize_grid, result_heatmap_png
from engine.optimize._heatmap import pivot  # a private helper, tested on its own


def test_same_seed_same_trials_and_result() -> None:
    candles = random_walk(6000, seed=9)
    space = make_space("ema_cross", {"fast": "2:60", "slow": "10:200", "sl": "0:0.02"})
    a = optimize_bayes(candles, space, 40, seed=5, overfit=False)
    b = optimize_bayes(candles, space, 40, seed=5, overfit=False, batch_size=a.extra["batch_size"])
    c = optimize_bayes(candles, space, 40, seed=6, overfit=False)
    assert a.combos == b.combos and list(a.scores) == list(b.scores)
    assert a.combos != c.combos
    assert len(a) == 40 and all(p["fast"] < p["slow"] for p in a.combos)
    assert a.extra["infeasible"] >= 0 and a.method == "bayes"


def test_bayes_finds_the_known_optimum() -> None:
    candles = triangle_wave(6000, half_period=100)
    space = make_space("momentum", {"period": "3:41:2"})
    res = optimize_bayes(candles, space, 20, "total_return", {"fee": 0.0}, seed=1, overfit=False)
    assert res.best is not None and res.best["params"]["period"] == 3 and res.best["score"] > 0


def test_pruning_is_reproducible_and_prunes() -> None:
    candles = random_walk(8000, seed=2)
    space = make_space("ema_cross", {"fast": "2:80", "slow": "20:300"})
    a = optimize_bayes(candles, space, 48, seed=3, prune=True, batch_size=8, overfit=False)
    b = optimize_bayes(candles, space, 48, seed=3, prune=True, batch_size=8, overfit=False)
    assert a.combos == b.combos and a.extra["pruned"] == b.extra["pruned"] > 0


def test_unsatisfiable_and_empty_bayes_inputs() -> None:
    candles = random_walk(3000, seed=0)
    with pytest.raises(engine.InvalidParameterError, match="no combination"):
        optimize_bayes(candles, make_space("ema_cross", {"fast": "60:80", "slow": "10:50"}), 10)
    with pytest.raises(engine.InvalidParameterError, match="n_trials"):
        optimize_bayes(candles, make_space("ema_cross", {"fast": "5:10"}), 0)


def test_bayes_reports_overfitting_statistics() -> None:
    candles = random_walk(12_000, seed=4)
    res = optimize_bayes(candles, make_space("ema_cross", {"fast": "2:40", "slow": "50:150"}), 24,
                         seed=0, n_blocks=6)
    assert res.overfit is not None and res.overfit.n_trials == 24
    assert res.overfit.pbo is not None and res.overfit.deflated_sharpe is not None


def test_heatmap_pivot_and_png() -> None:
    combos = [{"a": 1, "b": 1, "c": 0}, {"a": 1, "b": 1, "c": 1}, {"a": 2, "b": 1, "c": 0}]
    xs, ys, grid = pivot(combos, [1.0, 3.0, float("nan")], "a", "b")
    assert xs == [1.0, 2.0] and ys == [1.0] and grid[0, 0] == 3.0 and grid[0, 1] != grid[0, 1]
    candles = random_walk(4000, seed=1)
    res = optimize_grid(candles, make_space("ema_cross", {"fast": "5:20:5", "slow": "30:60:10"}),
                        overfit=False)
    png = result_heatmap_png(res, "fast", "slow")
    assert png.startswith(b"\x89PNG") and len(png) > 2000
    with pytest.raises(engine.InvalidParameterError, match="no parameter"):
        result_heatmap_png(res, "fast", "nope")
