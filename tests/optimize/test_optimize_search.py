"""Grid and random search: optimum recovered, objectives, tables, bad input."""

from __future__ import annotations

import math

import pytest
from optimize_data import random_walk, triangle_wave

import engine
from engine.optimize import (
    Objective,
    ParamRange,
    make_space,
    optimize_grid,
    optimize_random,
    parse_objective,
)

NO_FEE = {"fee": 0.0}


def test_grid_recovers_the_known_optimum_on_a_triangle_wave() -> None:
    # On a noise-free zig-zag, momentum(period) reverses about period/2 bars after
    # each turn: the shortest look-back loses least to lag, so period=3 must win and
    # returns must fall as the period grows. (Odd periods: for even ones the rate of
    # change touches exactly 0 at the turn, which is not a strict crossing.)
    candles = triangle_wave(6000, half_period=100)
    space = make_space("momentum", {"period": ParamRange(3, 41, 2)})
    result = optimize_grid(candles, space, "total_return", NO_FEE, overfit=False)
    assert result.best is not None
    assert result.best["params"]["period"] == 3 and result.best["score"] > 0
    by_period = sorted(result.top(30), key=lambda row: row["params"]["period"])
    returns = [row["total_return"] for row in by_period]
    assert returns == sorted(returns, reverse=True) and returns[0] > returns[-1]


def test_grid_best_equals_brute_force_single_backtests() -> None:
    candles = random_walk(8000, seed=3)
    space = make_space("ema_cross", {"fast": "4:20:4", "slow": [30, 50, 80]})
    result = optimize_grid(candles, space, "sharpe", overfit=False)
    brute = {
        (f, s): engine.backtest(candles, "ema_cross", {"fast": f, "slow": s}).metrics["sharpe"]
        for f in range(4, 21, 4) for s in (30, 50, 80)
    }
    want = max(brute, key=lambda k: brute[k])
    assert result.best is not None
    assert (result.best["params"]["fast"], result.best["params"]["slow"]) == want
    assert math.isclose(result.best["sharpe"], brute[want], rel_tol=1e-12)


def test_random_search_is_seeded_and_respects_constraints() -> None:
    candles = random_walk(5000, seed=1)
    space = make_space("ema_cross", {"fast": "2:60", "slow": "10:120"}, ["slow >= 2*fast"])
    a = optimize_random(candles, space, 30, seed=7, overfit=False)
    b = optimize_random(candles, space, 30, seed=7, overfit=False)
    assert a.combos == b.combos and len(a) == 30
    assert all(c["slow"] >= 2 * c["fast"] and c["fast"] < c["slow"] for c in a.combos)
    assert len({(c["fast"], c["slow"]) for c in a.combos}) == 30


def test_weighted_objective_and_min_trades() -> None:
    obj = parse_objective("sharpe:0.5,calmar:0.5", min_trades=3)
    m = {"sharpe": 2.0, "calmar": 4.0, "n_trades": 3}
    assert obj.score(m) == 3.0
    assert math.isnan(obj.score({**m, "n_trades": 2}))
    assert math.isnan(obj.score({**m, "calmar": None}))
    assert obj.label == "0.5*sharpe+0.5*calmar"
    candles = random_walk(4000, seed=2)
    space = make_space("ema_cross", {"fast": [5, 10], "slow": [40, 3000 // 2]})
    result = optimize_grid(candles, space, Objective({"total_return": 1.0}, min_trades=10**6),
                           overfit=False)
    assert result.best is None and all(r["rank"] is None for r in result.table())


def test_summary_carries_overfitting_statistics() -> None:
    candles = random_walk(20_000, seed=5)
    space = make_space("ema_cross", {"fast": "5:25:5", "slow": "30:90:20"})
    result = optimize_grid(candles, space, "sharpe", n_blocks=8)
    s = result.summary(top_n=3)
    assert len(s["top"]) == 3 and s["top"][0]["rank"] == 1
    ov = s["overfit"]
    assert ov["n_trials"] == len(result)
    assert 0.0 <= ov["deflated_sharpe"] <= 1.0
    assert 0.0 <= ov["pbo"]["pbo"] <= 1.0 and ov["pbo"]["n_blocks"] == 8
    ci = ov["sharpe_ci"]
    assert ci["low"] <= ci["sharpe"] <= ci["high"]


@pytest.mark.parametrize(
    ("params", "constraints", "message"),
    [
        ({"fast": "20:10"}, (), "is empty"),
        ({"fast": []}, (), "is empty"),
        ({"fast": "5:10:0"}, (), "step"),
        ({"fast": "50:60", "slow": "10:20"}, (), "no combination satisfies"),
        ({"fast": "5:10", "slow": "20:30"}, ("slow < fast",), "no combination satisfies"),
        ({"nope": "1:2"}, (), "unknown parameter"),
        ({"fast": "1:10"}, (), "out of range"),
        ({}, (), "at least one parameter"),
        ({"fast": "5:10"}, ("fast < __import__",), "unknown parameter"),
    ],
)
def test_bad_search_spaces_are_clear_errors(params: dict, constraints: tuple, message: str) -> None:
    candles = random_walk(2000, seed=0)
    with pytest.raises(engine.InvalidParameterError, match=message):
        space = make_space("ema_cross", params, constraints)
        optimize_grid(candles, space, overfit=False)


def test_too_many_combinations_need_consent() -> None:
    space = make_space("ema_cross", {"fast": "2:400", "slow": "3:1500", "sl": "0:0.05:0.01"})
    with pytest.raises(engine.GridTooLargeError, match="allow_large"):
        optimize_grid(random_walk(2000, seed=0), space)
    small_cap = make_space("ema_cross", {"fast": "2:30", "slow": "40:60"})
    with pytest.raises(engine.GridTooLargeError):
        optimize_grid(random_walk(2000, seed=0), small_cap, max_combos=100)


def test_unknown_objective_is_a_clear_error() -> None:
    with pytest.raises(engine.InvalidParameterError, match="choose from"):
        parse_objective("sharp")
    with pytest.raises(engine.InvalidParameterError, match="must be a number"):
        parse_objective("sharpe:x")


def test_default_params_span_the_spec_around_defaults() -> None:
    for strat in engine.STRATEGIES.values():
        ranges = engine.default_params(strat)
        assert set(ranges) == {p.name for p in strat.params}
        for spec in strat.params:
            r = ranges[spec.name]
            assert spec.low <= r.low <= spec.default <= r.high <= spec.high
        if strat.params:
            space = make_space(strat, ranges)  # valid bounds, steps and types
            assert space is not None
