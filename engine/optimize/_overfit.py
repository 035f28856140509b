"""Overfitting statistics, pure numpy: deflated Sharpe, PBO by CSCV, bootstrap CI.

* Probabilistic and deflated Sharpe ratio: Bailey & López de Prado, "The
  Deflated Sharpe Ratio" (J. Portfolio Management, 2014). Sharpe ratios here
  are per observation (not annualised) and kurtosis is the raw (non-excess) one,
  as in the paper.
* Probability of backtest overfitting by combinatorially symmetric
  cross-validation: Bailey, Borwein, López de Prado & Zhu, "The Probability of
  Backtest Overfitting" (J. Computational Finance, 2017).
* Bootstrap confidence interval of a Sharpe ratio: non-overlapping block
  bootstrap, so autocorrelated bar returns are resampled in runs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

EULER_GAMMA = 0.5772156649015329


def norm_cdf(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_ppf(p: float) -> float:
    """Inverse standard normal CDF (Acklam's rational approximation, one Newton step)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"norm_ppf needs 0 < p < 1, got {p}")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    lo = 0.02425
    if p < lo or p > 1 - lo:
        q = math.sqrt(-2 * math.log(p if p < lo else 1 - p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        x = x if p < lo else -x
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (
            ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    # one Newton step on the exact CDF brings the error to ~1e-15
    e = norm_cdf(x) - p
    return x - e * math.sqrt(2 * math.pi) * math.exp(x * x / 2)


def expected_max_sharpe(n_trials: int, var_sharpe: float) -> float:
    """SR0: the expected maximum of ``n_trials`` Sharpe ratios drawn with zero true
    mean and variance ``var_sharpe`` (the paper's false-strategy theorem)."""
    if n_trials <= 1 or var_sharpe <= 0:
        return 0.0
    n = float(n_trials)
    return math.sqrt(var_sharpe) * (
        (1 - EULER_GAMMA) * norm_ppf(1 - 1 / n) + EULER_GAMMA * norm_ppf(1 - 1 / (n * math.e))
    )


def probabilistic_sharpe(sr: float, sr0: float, n_obs: int, skew: float, kurt: float) -> float:
    """PSR: probability that the true Sharpe exceeds ``sr0`` given ``n_obs``
    observations with this skewness and raw kurtosis (per-observation Sharpe)."""
    if n_obs < 2:
        return math.nan
    denom = 1 - skew * sr + (kurt - 1) / 4 * sr * sr
    if denom <= 0:
        return math.nan
    return norm_cdf((sr - sr0) * math.sqrt(n_obs - 1) / math.sqrt(denom))


def deflated_sharpe(sr: float, n_trials: int, var_sharpe: float, n_obs: int, skew: float, kurt: float) -> float:
    """DSR: the PSR of ``sr`` against the expected best of ``n_trials`` unskilled trials."""
    return probabilistic_sharpe(sr, expected_max_sharpe(n_trials, var_sharpe), n_obs, skew, kurt)


def moments(returns: F64) -> tuple[float, float, float, float]:
    """Mean, sample std, skewness and raw kurtosis of a return series."""
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return (float(r.mean()) if r.size else 0.0), 0.0, 0.0, 3.0
    mean = float(r.mean())
    dev = r - mean
    m2 = float(np.mean(dev * dev))
    if m2 <= 0:
        return mean, 0.0, 0.0, 3.0
    skew = float(np.mean(dev**3)) / m2**1.5
    kurt = float(np.mean(dev**4)) / m2**2
    return mean, math.sqrt(m2 * r.size / (r.size - 1)), skew, kurt


@dataclass(frozen=True)
class PBOResult:
    """PBO and what goes with it (paper, section 3)."""

    pbo: float
    n_splits: int
    n_blocks: int
    n_trials: int
    prob_oos_loss: float  # share of splits where the IS-best trial loses money OOS
    degradation_slope: float  # OLS slope of OOS on IS performance of the chosen trial
    logits: list[float]

    def to_dict(self, with_logits: bool = False) -> dict[str, object]:
        d = asdict(self)
        if not with_logits:
            d.pop("logits")
        return d


def _sharpe(total: F64, squares: F64, count: F64) -> F64:
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        var = (squares - total * mean) / (count - 1)
        out = mean / np.sqrt(np.maximum(var, 0.0))
    return np.where(np.isfinite(out), out, -np.inf)


def pbo_from_block_stats(sums: F64, squares: F64, counts: F64, *, chunk: int = 512) -> PBOResult:
    """PBO by CSCV from per-block sufficient statistics of each trial's returns.

    ``sums``, ``squares`` and ``counts`` are (S blocks x N trials): the sum, sum
    of squares and number of returns of trial n in block s. Performance is the
    Sharpe ratio of the union of blocks, which these statistics give exactly."""
    s_blocks, n = sums.shape
    if s_blocks < 2 or s_blocks % 2:
        raise ValueError(f"CSCV needs an even number of blocks >= 2, got {s_blocks}")
    if n < 2:
        raise ValueError("PBO needs at least 2 trials")
    combos = np.array(list(itertools.combinations(range(s_blocks), s_blocks // 2)))
    logits: list[float] = []
    is_best: list[float] = []
    oos_best: list[float] = []
    for start in range(0, len(combos), chunk):
        part = combos[start:start + chunk]
        mask = np.zeros((len(part), s_blocks))
        np.put_along_axis(mask, part, 1.0, axis=1)
        inv = 1.0 - mask
        perf_is = _sharpe(mask @ sums, mask @ squares, mask @ counts)
        perf_oos = _sharpe(inv @ sums, inv @ squares, inv @ counts)
        best = np.argmax(perf_is, axis=1)
        rows = np.arange(len(part))
        chosen = perf_oos[rows, best]
        # rank 1 = worst OOS; ties share their average rank
        below = (perf_oos < chosen[:, None]).sum(axis=1)
        ties = (perf_oos == chosen[:, None]).sum(axis=1)
        omega = (below + (ties + 1) / 2.0) / (n + 1)
        logits.extend(np.log(omega / (1 - omega)).tolist())
        is_best.extend(perf_is[rows, best].tolist())
        oos_best.extend(chosen.tolist())
    lam = np.array(logits)
    x, y = np.array(is_best), np.array(oos_best)
    ok = np.isfinite(x) & np.isfinite(y)
    slope = float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() > 2 and np.ptp(x[ok]) > 0 else math.nan
    return PBOResult(
        # "the rate at which the IS-optimal trial underperforms the OOS median"
        pbo=float(np.mean(lam < 0)),
        n_splits=len(combos),
        n_blocks=s_blocks,
        n_trials=n,
        prob_oos_loss=float(np.mean(y < 0)),
        degradation_slope=slope,
        logits=logits,
    )


def pbo_cscv(returns: F64, n_blocks: int = 16) -> PBOResult:
    """PBO by CSCV from a (T observations x N trials) return matrix split into
    ``n_blocks`` contiguous blocks of equal length (the remainder is dropped)."""
    m = np.asarray(returns, dtype=float)
    t = (m.shape[0] // n_blocks) * n_blocks
    if t < 2 * n_blocks:
        raise ValueError(f"{m.shape[0]} observations are too few for {n_blocks} blocks")
    blocks = m[:t].reshape(n_blocks, t // n_blocks, m.shape[1])
    return pbo_from_block_stats(
        blocks.sum(axis=1), (blocks**2).sum(axis=1), np.full((n_blocks, m.shape[1]), t / n_blocks)
    )


@dataclass(frozen=True)
class SharpeCI:
    """Annualised Sharpe with its bootstrap percentile interval."""

    sharpe: float
    low: float
    high: float
    level: float
    n_boot: int
    block_len: int

    def to_dict(self) -> dict[str, float | int | None]:
        return {k: (v if isinstance(v, int) or math.isfinite(v) else None) for k, v in asdict(self).items()}


def bootstrap_sharpe_ci(
    returns: F64,
    *,
    periods_per_year: float = 1.0,
    n_boot: int = 2000,
    level: float = 0.95,
    block_len: int | None = None,
    seed: int = 0,
    max_blocks: int = 20_000,
) -> SharpeCI:
    """Percentile CI of the annualised Sharpe by a non-overlapping block bootstrap.

    Blocks default to ~T^(1/3) returns (enlarged so there are at most
    ``max_blocks``); each resample draws whole blocks with replacement, and its
    Sharpe comes from the blocks' sums, so the cost is n_boot x blocks, not x T."""
    r = np.asarray(returns, dtype=float)
    t = r.size
    if t < 4:
        raise ValueError(f"{t} returns are too few to bootstrap a Sharpe ratio")
    blen = block_len or max(1, round(t ** (1 / 3)))
    blen = max(blen, math.ceil(t / max_blocks))
    nb = t // blen
    if nb < 2:
        blen, nb = 1, t
    blocks = r[: nb * blen].reshape(nb, blen)
    bsum, bsq = blocks.sum(axis=1), (blocks**2).sum(axis=1)
    rng = np.random.default_rng(seed)
    ann = math.sqrt(periods_per_year)
    out = np.empty(n_boot)
    for start in range(0, n_boot, 256):  # bounded memory: 256 resamples at a time
        k = min(256, n_boot - start)
        idx = rng.integers(0, nb, size=(k, nb))
        out[start:start + k] = _sharpe(bsum[idx].sum(axis=1), bsq[idx].sum(axis=1),
                                       np.full(k, float(nb * blen)))
    out = np.where(np.isfinite(out), out, np.nan) * ann
    mean, std, _, _ = moments(r)
    alpha = (1 - level) / 2
    return SharpeCI(
        sharpe=mean / std * ann if std > 0 else math.nan,
        low=float(np.nanquantile(out, alpha)),
        high=float(np.nanquantile(out, 1 - alpha)),
        level=level,
        n_boot=n_boot,
        block_len=blen,
    )
