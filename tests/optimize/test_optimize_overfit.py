"""Deflated Sharpe, PBO and the bootstrap CI against worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

# the statistics module itself, private helpers included (engine.optimize re-exports the rest)
from engine.optimize._overfit import (
    bootstrap_sharpe_ci,
    deflated_sharpe,
    expected_max_sharpe,
    norm_cdf,
    norm_ppf,
    pbo_cscv,
    pbo_from_block_stats,
    probabilistic_sharpe,
)


def test_inverse_normal_matches_known_quantiles() -> None:
    assert norm_ppf(0.975) == pytest.approx(1.959963984540054, abs=1e-12)
    assert norm_ppf(0.5) == pytest.approx(0.0, abs=1e-15)
    for p in (1e-9, 0.01, 0.3, 0.99, 1 - 1e-9):
        assert norm_cdf(norm_ppf(p)) == pytest.approx(p, rel=1e-9)


def test_deflated_sharpe_reproduces_the_papers_numerical_example() -> None:
    # Bailey & López de Prado (2014), section "A numerical example": 1,250 daily
    # returns, annualised SR 2.5, N = 100 trials whose annualised Sharpe ratios have
    # variance 1/2, skewness -3, kurtosis 10 -> SR0 = 0.1132 (1.7894 annualised)
    # and DSR = 0.9004.
    sr = 2.5 / math.sqrt(250)
    var = 0.5 / 250
    sr0 = expected_max_sharpe(100, var)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert sr0 * math.sqrt(250) == pytest.approx(1.7894, abs=5e-4)
    assert deflated_sharpe(sr, 100, var, 1250, -3.0, 10.0) == pytest.approx(0.9004, abs=5e-4)


def test_one_trial_deflates_to_the_probabilistic_sharpe() -> None:
    assert expected_max_sharpe(1, 0.01) == 0.0
    psr = probabilistic_sharpe(0.1, 0.0, 1000, 0.0, 3.0)
    assert deflated_sharpe(0.1, 1, 0.01, 1000, 0.0, 3.0) == psr
    assert psr == pytest.approx(norm_cdf(0.1 * math.sqrt(999) / math.sqrt(1 + 0.5 * 0.01)))


def test_pbo_is_one_when_the_in_sample_winner_always_loses_out_of_sample() -> None:
    # Two trials, two blocks: each wins the block the other loses. Whatever half is
    # in-sample, its winner is the out-of-sample loser (rank 1 of 2: logit < 0).
    a = np.r_[np.full(50, 0.01), np.full(50, -0.01)] + np.tile([0.001, -0.001], 50)
    m = np.column_stack([a, -a])
    res = pbo_cscv(m, n_blocks=2)
    assert res.pbo == 1.0 and res.n_splits == 2
    assert res.logits == pytest.approx([math.log((1 / 3) / (2 / 3))] * 2)


def test_pbo_is_about_half_for_pure_noise_and_zero_for_real_skill() -> None:
    # The paper's two limiting cases: trials without skill are selected at random
    # out of sample (PBO ~ 0.5); a trial with a real edge stays on top (PBO ~ 0).
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, size=(4000, 100))
    pbos = [pbo_cscv(rng.normal(0, 0.01, size=(2000, 50)), n_blocks=10).pbo for _ in range(8)]
    assert 0.3 < float(np.mean(pbos)) < 0.7
    skilled = noise.copy()
    skilled[:, 7] += 0.004
    res = pbo_cscv(skilled, n_blocks=16)
    assert res.pbo < 0.01 and res.n_splits == 12870
    assert res.prob_oos_loss < 0.01


def test_block_statistics_give_the_same_pbo_as_the_return_matrix() -> None:
    rng = np.random.default_rng(3)
    m = rng.normal(0, 0.01, size=(800, 12))
    blocks = m.reshape(8, 100, 12)
    a = pbo_cscv(m, n_blocks=8)
    b = pbo_from_block_stats(blocks.sum(1), (blocks**2).sum(1), np.full((8, 12), 100.0))
    assert a.pbo == b.pbo and a.logits == pytest.approx(b.logits)
    with pytest.raises(ValueError, match="even"):
        pbo_cscv(m, n_blocks=7)


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(0.0005, 0.01, 20_000)
    a = bootstrap_sharpe_ci(r, periods_per_year=365, seed=4)
    b = bootstrap_sharpe_ci(r, periods_per_year=365, seed=4)
    assert a == b
    assert a.low < a.sharpe < a.high
    # the textbook standard error of an annualised Sharpe: sqrt(ppy / T)
    se = math.sqrt(365 / r.size)
    assert (a.high - a.low) == pytest.approx(2 * 1.96 * se, rel=0.25)
