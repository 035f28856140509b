"""Sampling statistics behind the analyst's numeric answers (stdlib only, no randomness).

Sharpe ratios here are per observation (per trade, per day, per bar) unless a
function says otherwise; `skew` and `kurtosis` (Pearson, normal = 3) default to
the normal distribution's.
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = [
    "Z_ONE_SIDED_95",
    "Z_TWO_SIDED_95",
    "expected_max_drawdown",
    "expected_max_sharpe",
    "min_track_record",
    "normal_cdf",
    "probabilistic_sharpe",
    "sharpe_se",
    "sharpe_variance_factor",
    "wilson_interval",
]

_NORMAL = NormalDist()
Z_ONE_SIDED_95 = _NORMAL.inv_cdf(0.95)  # 1.645
Z_TWO_SIDED_95 = _NORMAL.inv_cdf(0.975)  # 1.960
_EULER_GAMMA = 0.5772156649015329


def normal_cdf(x: float) -> float:
    return _NORMAL.cdf(x)


def sharpe_variance_factor(sharpe: float, skew: float = 0.0, kurtosis: float = 3.0) -> float:
    """n × Var(estimated Sharpe): 1 + S²/2 for normal returns (Lo 2002); skew and fat
    tails change it to 1 − skew·S + (kurtosis − 1)/4·S² (Mertens 2002)."""
    return max(1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2, 1e-12)


def sharpe_se(sharpe: float, n: float, skew: float = 0.0, kurtosis: float = 3.0) -> float:
    """Standard error of a Sharpe ratio estimated from n observations."""
    return math.sqrt(sharpe_variance_factor(sharpe, skew, kurtosis) / n)


def probabilistic_sharpe(
    sharpe: float, n: float, benchmark: float = 0.0, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """P(true Sharpe > benchmark) given the estimate over n observations (Bailey &
    López de Prado 2012); with `benchmark` = expected maximum under the null it is
    the deflated Sharpe ratio."""
    factor = sharpe_variance_factor(sharpe, skew, kurtosis)
    return normal_cdf((sharpe - benchmark) * math.sqrt(max(n - 1.0, 0.0)) / math.sqrt(factor))


def min_track_record(
    sharpe: float,
    benchmark: float = 0.0,
    z: float = Z_ONE_SIDED_95,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float | None:
    """Observations needed before the Sharpe beats `benchmark` at the confidence of `z`
    (minimum track record length, Bailey & López de Prado 2012); None when it never does."""
    if sharpe <= benchmark:
        return None
    return 1.0 + sharpe_variance_factor(sharpe, skew, kurtosis) * (z / (sharpe - benchmark)) ** 2


def expected_max_sharpe(n_trials: float, se: float) -> float:
    """Expected best Sharpe among `n_trials` independent strategies with no edge whose
    estimates scatter with standard error `se` (False Strategy theorem, Bailey,
    Borwein, López de Prado & Zhu 2014)."""
    if n_trials < 2:
        return 0.0
    first = _NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    second = _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return se * ((1.0 - _EULER_GAMMA) * first + _EULER_GAMMA * second)


def wilson_interval(p: float, n: float, z: float = Z_TWO_SIDED_95) -> tuple[float, float]:
    """Wilson score interval of a proportion p observed over n trials (sound for small n)."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def expected_max_drawdown(volatility: float, years: float) -> float:
    """Expected maximum drawdown, as a fraction of the peak, of a zero-edge random walk
    with annual volatility `volatility` over `years` (sqrt(pi/2)·σ·√T in log terms,
    Magdon-Ismail et al. 2004)."""
    return 1.0 - math.exp(-math.sqrt(math.pi / 2.0) * volatility * math.sqrt(years))
