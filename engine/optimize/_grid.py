"""The parameter grid: many combinations of one strategy on one data set.

Each distinct indicator line is computed once and shared (an EMA cross needs
none: the kernel computes its two EMAs as it goes); combinations run in
parallel in the numba kernel, which streams statistics instead of keeping
equity curves, so memory is O(bars x distinct lines + combinations), and
O(bars + combinations) for EMA crosses. Work is sent in chunks so callers get
progress and can cancel between chunks.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from engine._nb.backtest_nb import grid_nb
from engine._nb.enums import N_STATS
from engine.backtest import make_config
from engine.candles import day_ends, validate_candles
from engine.config import BacktestConfig, funding_per_bar
from engine.errors import GridTooLargeError, InvalidDataError, InvalidParameterError
from engine.metrics import metrics_from_stats
from engine.strategies import LineTable, ParamValue, Strategy, get_strategy
from ohlcv import Candles

RISK_KEYS = ("sl", "tp", "trail")
DEFAULT_MAX_COMBOS = 1_000_000

#: progress(done, total) after each chunk of combinations
GridProgressFn = Callable[[int, int], None]
#: polled between chunks: True ends the run early, with the rows finished so far
StopFn = Callable[[], bool]
F64 = npt.NDArray[np.float64]


@dataclass
class GridResult:
    """Metrics of every evaluated combination, in input order."""

    strategy: str
    combos: list[dict[str, ParamValue]]
    metrics: list[dict[str, Any]]
    stats: npt.NDArray[np.float64]
    periods_per_year: float
    elapsed_s: float
    cancelled: bool = False

    def __len__(self) -> int:
        return len(self.metrics)

    def column(self, key: str) -> npt.NDArray[np.float64]:
        """One metric across combinations, NaN where it is undefined."""
        return np.array([np.nan if m[key] is None else m[key] for m in self.metrics], dtype=float)

    def top(self, key: str = "sharpe", n: int = 10, min_trades: int = 0) -> list[dict[str, Any]]:
        """The ``n`` best combinations by ``key`` (undefined values last)."""
        rows = [
            {"params": p, **m}
            for p, m in zip(self.combos, self.metrics, strict=False)
            if m["n_trades"] >= min_trades
        ]
        rows.sort(key=lambda r: -math.inf if r[key] is None else r[key], reverse=True)
        return rows[:n]


def expand_grid(
    strategy: Strategy,
    grid: Mapping[str, Iterable[Any]],
    *,
    max_combos: int = DEFAULT_MAX_COMBOS,
    allow_large: bool = False,
) -> list[dict[str, ParamValue]]:
    """All valid combinations of ``grid`` (parameter -> values), constraints applied.

    Parameters not in ``grid`` keep their defaults; ``sl``, ``tp`` and ``trail``
    may be varied too. Raises a clear error for empty lists, unknown names,
    out-of-range values, no combination satisfying the constraints, or more
    than ``max_combos`` combinations without ``allow_large``."""
    names = list(grid)
    values: list[list[Any]] = []
    specs = {p.name: p for p in strategy.params}
    for name in names:
        vals = list(grid[name])
        if not vals:
            raise InvalidParameterError(f"the value list for '{name}' is empty; give at least one value")
        if name in specs:
            vals = [specs[name].coerce(v, strategy.name) for v in vals]
        elif name in RISK_KEYS:
            vals = [_risk_value(name, v) for v in vals]
        else:
            raise InvalidParameterError(
                f"unknown parameter '{name}' for strategy '{strategy.name}'; it takes "
                f"{', '.join([*specs, *RISK_KEYS])}"
            )
        values.append(list(dict.fromkeys(vals)))
    total = math.prod(len(v) for v in values)
    if total > max_combos and not allow_large:
        raise GridTooLargeError(
            f"the grid has {total:,} combinations, above the limit of {max_combos:,}; "
            "narrow the ranges, use random search, or pass allow_large=True to confirm"
        )
    base = strategy.defaults()
    combos = []
    for combo in itertools.product(*values):
        params = {**base, **dict(zip(names, combo, strict=True))}
        if strategy.satisfies(params):
            combos.append(params)
    if not combos:
        raise InvalidParameterError(
            f"no combination satisfies {strategy.name}'s constraints "
            f"({', '.join(f'{a} < {b}' for a, b in strategy.constraints)}); adjust the ranges"
        )
    return combos


def _risk_value(name: str, v: Any) -> float:
    x = float(v)
    if not 0.0 <= x < 1.0:
        raise InvalidParameterError(f"{name}={v!r} must be a fraction in [0, 1)")
    return x


def split_params(params: Mapping[str, ParamValue]) -> tuple[dict[str, ParamValue], dict[str, float]]:
    """Strategy parameters and risk overrides (sl, tp, trail) of one combination."""
    strat = {k: v for k, v in params.items() if k not in RISK_KEYS}
    risk = {k: float(v) for k, v in params.items() if k in RISK_KEYS}
    return strat, risk


def run_grid(
    candles: Candles,
    strategy: str | Strategy,
    combos: Sequence[Mapping[str, ParamValue]] | Mapping[str, Iterable[Any]],
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    progress: GridProgressFn | None = None,
    should_stop: StopFn | None = None,
    chunk_seconds: float = 0.25,
    max_combos: int = DEFAULT_MAX_COMBOS,
    allow_large: bool = False,
) -> GridResult:
    """Evaluate every combination and return its metrics.

    ``combos`` is either a list of parameter dicts or a grid mapping
    (parameter -> values) expanded with :func:`expand_grid`. ``progress(done,
    total)`` is called after each chunk; when ``should_stop()`` turns true the
    run ends after the current chunk and the result says ``cancelled``."""
    strat = strategy if isinstance(strategy, Strategy) else get_strategy(strategy)
    cfg = make_config(config)
    if isinstance(combos, Mapping):
        combo_list = expand_grid(strat, combos, max_combos=max_combos, allow_large=allow_large)
    else:
        combo_list = [dict(c) for c in combos]
    if not combo_list:
        raise InvalidParameterError("no parameter combinations to evaluate")
    validate_candles(candles)
    started = time.perf_counter()
    batch = _Batch.prepare(candles, strat, combo_list, cfg)
    funding = funding_per_bar(candles.time, cfg)
    fc = cfg.float_array()
    ic = cfg.int_array(bool(funding.any()))
    args = (candles.open, candles.high, candles.low, candles.close, funding,
            day_ends(candles), batch.lines, batch.rule)

    def run(s: slice) -> F64:
        emas = batch.emas[s] if len(batch.emas) else batch.emas
        return grid_nb(*args, batch.rows[s], batch.rparams[s], batch.warmups[s], batch.risk[s],
                       emas, fc, ic, numba.get_num_threads())

    stats = np.empty((len(combo_list), N_STATS))
    done, cancelled = _run_in_chunks(run, stats, progress, should_stop, chunk_seconds)
    return grid_from_stats(candles, strat, combo_list[:done], stats[:done], cfg,
                           elapsed_s=time.perf_counter() - started, cancelled=cancelled)


def grid_from_stats(
    candles: Candles,
    strategy: str | Strategy,
    combos: Sequence[Mapping[str, ParamValue]],
    stats: npt.NDArray[np.float64],
    config: BacktestConfig | Mapping[str, Any] | None = None,
    *,
    elapsed_s: float = 0.0,
    cancelled: bool = False,
) -> GridResult:
    """The `GridResult` of kernel statistics (row k belongs to ``combos[k]``): the one place
    metrics are derived from them, so a grid merged from chunk statistics equals a single run."""
    strat = strategy if isinstance(strategy, Strategy) else get_strategy(strategy)
    cfg = make_config(config)
    if len(stats) != len(combos):
        raise InvalidParameterError(
            f"{len(stats)} statistics rows for {len(combos)} combinations; give one row per combination"
        )
    ppy = candles.periods_per_year
    bh = float(candles.close[-1] / candles.close[0] - 1.0) if candles.close[0] > 0 else None
    metrics = [
        metrics_from_stats(stats[k], initial_capital=cfg.initial_capital,
                           periods_per_year=ppy, buy_and_hold_return=bh)
        for k in range(len(combos))
    ]
    return GridResult(
        strategy=strat.name,
        combos=[dict(c) for c in combos],
        metrics=metrics,
        stats=stats,
        periods_per_year=ppy,
        elapsed_s=elapsed_s,
        cancelled=cancelled,
    )


@dataclass(frozen=True)
class _Batch:
    """The kernel's inputs for every combination: row k belongs to combination k."""

    rule: int
    rows: npt.NDArray[np.int64]
    rparams: F64
    warmups: npt.NDArray[np.int64]
    risk: F64  # sl, tp, trail
    emas: F64  # (combinations, 2) EMA spans when every plan is an EMA cross, else empty
    lines: F64  # the built (lines, bars) matrix, empty when the kernel computes the EMAs

    @classmethod
    def prepare(
        cls, candles: Candles, strat: Strategy, combos: list[dict[str, ParamValue]], cfg: BacktestConfig
    ) -> _Batch:
        """Plan every combination on one shared line table; build the lines the plans need."""
        table = LineTable(candles)
        plans = []
        risk = np.empty((len(combos), 3))
        for k, combo in enumerate(combos):
            strat_params, _ = split_params(combo)
            plans.append(strat.plan(table, strat.resolve_params(strat_params)))
            risk[k] = [float(combo.get(key, getattr(cfg, key))) for key in RISK_KEYS]
        max_warmup = max(p.warmup for p in plans)
        if max_warmup >= len(candles) - 1:
            raise InvalidDataError(
                f"the longest warm-up ({max_warmup} bars) leaves nothing to trade in "
                f"{len(candles)} bars; load more history or shorten the windows"
            )
        windows = [table.ema_windows(p) for p in plans]
        if all(w is not None for w in windows):
            # EMA crosses: the kernel computes both EMAs itself, so no (lines x bars)
            # matrix is built; memory stays O(bars + combinations)
            emas = np.array(windows, dtype=np.float64)
            lines = np.empty((0, len(candles)))
        else:
            emas = np.empty((0, 2))
            lines = table.build()
        return cls(
            plans[0].rule, np.stack([p.rows for p in plans]), np.stack([p.rparams for p in plans]),
            np.array([p.warmup for p in plans], dtype=np.int64), risk, emas, lines,
        )


def _run_in_chunks(
    run: Callable[[slice], F64],
    stats: F64,
    progress: GridProgressFn | None,
    should_stop: StopFn | None,
    chunk_seconds: float,
) -> tuple[int, bool]:
    """Fill ``stats`` row block by row block with ``run``; (rows done, cancelled).

    Each block is sized to take about ``chunk_seconds``, so cancellation stays prompt."""
    total = len(stats)
    done = 0
    chunk = 2
    while done < total:
        if should_stop is not None and should_stop():
            return done, True
        start, end = done, min(total, done + chunk)
        t0 = time.perf_counter()
        stats[start:end] = run(slice(start, end))
        per_combo = (time.perf_counter() - t0) / (end - start)
        done = end
        if progress is not None:
            progress(done, total)
        chunk = max(2, int(chunk_seconds / max(per_combo, 1e-6)))
    return done, False
