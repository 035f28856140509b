"""Built-in strategies: typed parameter specs and signal plans, in one registry.

A strategy does not loop over bars. It names the indicator lines it needs (each
computed once per distinct window, shared by every combination of a grid) and a
signal rule the kernel evaluates bar by bar. That keeps a 184-combination grid
at one EMA per distinct window instead of one per combination.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from engine._nb import enums as E
from engine._nb import indicators_nb as K
from engine.errors import InvalidParameterError, UnknownStrategyError
from ohlcv import Candles

F64 = npt.NDArray[np.float64]
ParamValue = int | float


@dataclass(frozen=True)
class ParamSpec:
    """One tunable parameter: its type, default, inclusive bounds and meaning."""

    name: str
    type: Literal["int", "float"]
    default: ParamValue
    low: ParamValue
    high: ParamValue
    description: str

    def coerce(self, value: Any, strategy: str) -> ParamValue:
        """Validate one value against this spec, with a message that says the fix."""
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"{strategy}.{self.name} must be a number, got {value!r}"
            ) from None
        if self.type == "int":
            if not num.is_integer():
                raise InvalidParameterError(
                    f"{strategy}.{self.name} must be an integer, got {value!r}"
                )
            num = int(num)
        if not (self.low <= num <= self.high):
            raise InvalidParameterError(
                f"{strategy}.{self.name}={value!r} is out of range; use a value from "
                f"{self.low} to {self.high} (default {self.default})"
            )
        return num

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description, used by the CLI and the MCP catalogue."""
        return {
            "name": self.name, "type": self.type, "default": self.default,
            "low": self.low, "high": self.high, "description": self.description,
        }


class SignalPlan(NamedTuple):
    """What the kernel needs for one parameter combination."""

    rule: int
    rows: npt.NDArray[np.int64]
    rparams: F64
    warmup: int


class LineTable:
    """Indicator lines requested by plans, computed once each into one matrix.

    Plans call :meth:`request` with a key (e.g. ``("ema", 20)``) and a function
    computing the line; :meth:`build` then fills a (lines x bars) matrix.
    """

    def __init__(self, candles: Candles) -> None:
        self.candles = candles
        self._index: dict[Hashable, int] = {}
        self._makers: list[Callable[[], F64]] = []

    def request(self, key: Hashable, make: Callable[[], F64]) -> int:
        """Row index of the line ``key``, registering ``make`` the first time."""
        row = self._index.get(key)
        if row is None:
            row = len(self._makers)
            self._index[key] = row
            self._makers.append(make)
        return row

    def __len__(self) -> int:
        return len(self._makers)

    def ema_windows(self, plan: SignalPlan) -> tuple[int, int] | None:
        """(n_a, n_b) when ``plan`` is one EMA of the close crossing another: the
        kernel can then compute both itself instead of reading built lines."""
        if plan.rule != E.RULE_CROSS:
            return None
        keys = {row: key for key, row in self._index.items()}
        a, b = keys.get(int(plan.rows[0])), keys.get(int(plan.rows[1]))
        if (
            isinstance(a, tuple) and isinstance(b, tuple) and len(a) == 2 and len(b) == 2
            and a[0] == "ema" and b[0] == "ema"
        ):
            return int(a[1]), int(b[1])
        return None

    def build(self) -> F64:
        """Compute every requested line into a contiguous (lines, bars) matrix.

        EMAs of the close are computed in pairs, two recurrences per pass (see
        ``ema_pair_nb``); every other line by its own function."""
        n = len(self.candles)
        out = np.empty((max(1, len(self._makers)), n))
        if not self._makers:
            out[0] = 0.0
        ema_rows = {
            row: key[1] for key, row in self._index.items()
            if isinstance(key, tuple) and len(key) == 2 and key[0] == "ema"
        }
        rows = sorted(ema_rows)
        for r1, r2 in zip(rows[0::2], rows[1::2], strict=False):
            K.ema_pair_nb(self.candles.close, ema_rows[r1], ema_rows[r2], out[r1], out[r2])
        if len(rows) % 2:
            out[rows[-1]] = K.ema_nb(self.candles.close, ema_rows[rows[-1]])
        for row, make in enumerate(self._makers):
            if row not in ema_rows:
                out[row] = make()
        return out

    # Common lines, keyed so that every strategy shares them.
    def close(self) -> int:
        return self.request(("close",), lambda: self.candles.close)

    def ema(self, n: int) -> int:
        return self.request(("ema", n), lambda: K.ema_nb(self.candles.close, n))

    def sma(self, n: int) -> int:
        return self.request(("sma", n), lambda: K.sma_nb(self.candles.close, n))

    def const(self, value: float) -> int:
        return self.request(("const", value), lambda: np.full(len(self.candles), value))


PlanFn = Callable[[LineTable, Mapping[str, ParamValue]], SignalPlan]


@dataclass(frozen=True)
class Strategy:
    """A built-in strategy: name, what it does, its parameters and its plan."""

    name: str
    description: str
    params: tuple[ParamSpec, ...]
    plan_fn: PlanFn
    constraints: tuple[tuple[str, str], ...] = field(default=())  # (a, b) means a < b

    def defaults(self) -> dict[str, ParamValue]:
        return {p.name: p.default for p in self.params}

    def resolve_params(self, params: Mapping[str, Any] | None) -> dict[str, ParamValue]:
        """Defaults overlaid with ``params``, each validated; constraints checked."""
        given = dict(params or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            names = ", ".join(known) or "none"
            raise InvalidParameterError(
                f"unknown parameter(s) {', '.join(unknown)} for strategy '{self.name}'; "
                f"its parameters are: {names}"
            )
        out = {name: spec.coerce(given.get(name, spec.default), self.name) for name, spec in known.items()}
        for a, b in self.constraints:
            if not out[a] < out[b]:
                raise InvalidParameterError(
                    f"{self.name} needs {a} < {b}, got {a}={out[a]}, {b}={out[b]}"
                )
        return out

    def satisfies(self, params: Mapping[str, ParamValue]) -> bool:
        """True when the combination meets every constraint (used by grids)."""
        return all(params[a] < params[b] for a, b in self.constraints)

    def plan(self, table: LineTable, params: Mapping[str, ParamValue]) -> SignalPlan:
        return self.plan_fn(table, params)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "params": [p.to_dict() for p in self.params],
            "constraints": [f"{a} < {b}" for a, b in self.constraints],
        }


def _plan(rule: int, rows: list[int], rparams: list[float], warmup: int) -> SignalPlan:
    r = np.zeros(E.N_ROWS, dtype=np.int64)
    r[: len(rows)] = rows
    p = np.zeros(E.N_RPARAMS)
    p[: len(rparams)] = rparams
    return SignalPlan(rule, r, p, int(warmup))


def _int(p: Mapping[str, ParamValue], name: str) -> int:
    return int(p[name])


def _ema_cross(t: LineTable, p: Mapping[str, ParamValue]) -> SignalPlan:
    fast, slow = _int(p, "fast"), _int(p, "slow")
    return _plan(E.RULE_CROSS, [t.ema(fast), t.ema(slow)], [], slow)


def _sma_cross(t: LineTable, p: Mapping[str, ParamValue]) -> SignalPlan:
    fast, slow = _int(p, "fast"), _int(p, "slow")
    return _plan(E.RULE_CROSS, [t.sma(fast), t.sma(slow)], [], slow)


def _macd_cross(t: LineTable, p: Mapping[str, ParamValue]) -> SignalPlan:
    fast, slow, sig = _int(p, "fast"), _int(p, "slow"), _int(p, "signal")
    c = t.candles.close

    def line() -> F64:
        return K.ema_nb(c, fast) - K.ema_nb(c, slow)

    a = t.request(("macd", fast, slow), line)
    b = t.request(("macd_signal", fast, slow, sig), lambda: K.ema_nb(line(), sig))
    return _plan(E.RULE_CROSS, [a, b], [], slow + sig)


def _rsi(t: LineTable, p: Mapping[str, ParamValue]) -> SignalPlan:
    n = _int(p, "period")
    row = t.request(("rsi", n), lambda: K.rsi_nb(t.candles.close, n))
    return _plan(E.RULE_LEVELS, [row], [float(p["lower"]), float(p["upper"])], n + 1)


def _bollinger(t: LineTable, p: Mapping[str, ParamValue]) -> SignalPlan:
    n = _int(p, "period")
    sd = t.request(("std", n), lambda: K.rolling_std_nb(t.candles.close, n))
    return _plan(E.RULE_BANDS, [t.close(), t.sma(n), sd], [float(p["k"])], n)


def _donchian(t: LineTable, p: Mapping[str, ParamValue]) -> SignalPlan:
    n, m = _int(p, "period"), _int(p, "exit_period")
    c = t.candles

    def hi(w: int) -> int:
        return t.request(("max_high", w), lambda: K.rolling_max_nb(c.high, w))

    def lo(w: int) -> int:
        return t.request(("min_low", w), lambda: K.rolling_min_nb(c.low, w))

    return _plan(E.RULE_BREAKOUT, [t.close(), hi(n), lo(n), hi(m), lo(m)], [], max(n, m))


def _buy_and_hold(t: LineTable, p: Mapping[str, ParamValue]) -> SignalPlan:
    return _plan(E.RULE_HOLD, [], [], 0)


def _momentum(t: LineTable, p: Mapping[str, ParamValue]) -> SignalPlan:
    n = _int(p, "period")
    row = t.request(("roc", n), lambda: K.roc_nb(t.candles.close, n))
    return _plan(E.RULE_CROSS, [row, t.const(float(p["threshold"]))], [], n + 1)


def _i(name: str, default: int, low: int, high: int, desc: str) -> ParamSpec:
    return ParamSpec(name, "int", default, low, high, desc)


def _f(name: str, default: float, low: float, high: float, desc: str) -> ParamSpec:
    return ParamSpec(name, "float", default, low, high, desc)


_BUILTINS: tuple[Strategy, ...] = (
    Strategy(
        "ema_cross",
        "Trend following: long when EMA(fast) crosses above EMA(slow), short (or flat) on the opposite cross.",
        (_i("fast", 20, 2, 500, "Fast EMA span in bars"), _i("slow", 50, 3, 2000, "Slow EMA span in bars")),
        _ema_cross, (("fast", "slow"),),
    ),
    Strategy(
        "sma_cross",
        "Trend following: long when SMA(fast) crosses above SMA(slow), short (or flat) on the opposite cross.",
        (_i("fast", 10, 2, 500, "Fast SMA window in bars"), _i("slow", 30, 3, 2000, "Slow SMA window in bars")),
        _sma_cross, (("fast", "slow"),),
    ),
    Strategy(
        "macd_cross",
        "Momentum: long when the MACD line crosses above its signal line, short on the opposite cross.",
        (
            _i("fast", 12, 2, 200, "Fast EMA span"),
            _i("slow", 26, 3, 500, "Slow EMA span"),
            _i("signal", 9, 2, 200, "Signal-line EMA span"),
        ),
        _macd_cross, (("fast", "slow"),),
    ),
    Strategy(
        "rsi",
        "Mean reversion on Wilder's RSI: long when RSI climbs back above `lower`, exit long above `upper`; "
        "short when RSI falls back below `upper`, exit short below `lower`.",
        (
            _i("period", 14, 2, 200, "RSI period"),
            _f("lower", 30.0, 1.0, 49.0, "Oversold level"),
            _f("upper", 70.0, 51.0, 99.0, "Overbought level"),
        ),
        _rsi, (("lower", "upper"),),
    ),
    Strategy(
        "bollinger_reversion",
        "Mean reversion: long when the close drops below the lower band, short above the upper band; "
        "exit when the close crosses back over the middle band.",
        (_i("period", 20, 2, 500, "SMA window of the middle band"), _f("k", 2.0, 0.25, 5.0, "Band width in standard deviations")),
        _bollinger,
    ),
    Strategy(
        "donchian_breakout",
        "Breakout: long when the close exceeds the previous `period`-bar high, short below the previous low; "
        "exit on the opposite `exit_period` channel.",
        (_i("period", 20, 2, 1000, "Entry channel length"), _i("exit_period", 10, 2, 1000, "Exit channel length")),
        _donchian,
    ),
    Strategy(
        "momentum",
        "Momentum: long when the `period`-bar rate of change crosses above `threshold`, short when it crosses below.",
        (_i("period", 20, 1, 2000, "Look-back in bars"), _f("threshold", 0.0, -0.5, 0.5, "Rate-of-change level as a fraction")),
        _momentum,
    ),
    Strategy(
        "buy_and_hold",
        "Benchmark: buy at the first bar and hold to the end (long only, SL/TP still apply if set).",
        (),
        _buy_and_hold,
    ),
)

STRATEGIES: dict[str, Strategy] = {s.name: s for s in _BUILTINS}


def get_strategy(name: str) -> Strategy:
    """The built-in strategy called ``name``; a clear error lists the valid names."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownStrategyError(
            f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
        ) from None


def list_strategies() -> list[dict[str, Any]]:
    """The catalogue: every built-in strategy with its parameter specs."""
    return [s.to_dict() for s in _BUILTINS]


def _constant(values: F64) -> Callable[[], F64]:
    return lambda: values


def signals_plan(
    table: LineTable, signals: Sequence[npt.ArrayLike | None], warmup: int = 0
) -> SignalPlan:
    """A plan from your own precomputed boolean signals (decided on each bar's close):
    ``signals`` is (long entry, long exit, short entry, short exit), None for never."""
    n = len(table.candles)
    rows = []
    for key, arr in zip(("le", "lx", "se", "sx"), signals, strict=True):
        values = np.zeros(n) if arr is None else np.asarray(arr, dtype=np.float64)
        if values.shape != (n,):
            raise InvalidParameterError(
                f"signal '{key}' has shape {values.shape}; it must have one value per bar ({n})"
            )
        rows.append(table.request(("signal", key, id(arr)), _constant(values)))
    return _plan(E.RULE_SIGNALS, rows, [], warmup)
