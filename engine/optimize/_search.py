"""Search spaces: which values each parameter may take, and which combinations count.

A parameter is either a range (``low``, ``high``, optional ``step``) or an
explicit list. Grids enumerate ranges by their step; random and Bayesian
search sample them (continuously for a float range without a step). User
constraints are small comparison expressions such as ``"slow >= 2 * fast"``,
checked on top of the strategy's own (``fast < slow``).
"""

from __future__ import annotations

import ast
import math
import operator
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidParameterError
from engine.optimize._grid import DEFAULT_MAX_COMBOS, RISK_KEYS, expand_grid
from engine.strategies import ParamSpec, ParamValue, Strategy, get_strategy

_RISK_SPEC = {k: ParamSpec(k, "float", 0.0, 0.0, 0.999, f"{k} fraction") for k in RISK_KEYS}


@dataclass(frozen=True)
class ParamRange:
    """An inclusive range; ``step=None`` means continuous (random/Bayesian only)."""

    low: float
    high: float
    step: float | None = None

    def values(self, kind: str, name: str) -> list[ParamValue]:
        """Every grid value from low to high by step (high included when on the step)."""
        if self.step is None:
            if kind == "int":
                return list(range(int(self.low), int(self.high) + 1))
            raise InvalidParameterError(
                f"{name} is a float range without a step; give one (e.g. {name}={self.low}:{self.high}:0.1) "
                "for a grid, or use random/Bayesian search"
            )
        n = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        if kind == "int":
            return [round(self.low + i * self.step) for i in range(n)]
        return [round(self.low + i * self.step, 12) for i in range(n)]


ParamDomain = ParamRange | tuple[ParamValue, ...]

_OPS: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}


@dataclass(frozen=True)
class Constraint:
    """A comparison over parameter names, numbers and + - * /, e.g. ``slow >= 2*fast``."""

    text: str
    tree: ast.Expression = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str, names: Sequence[str]) -> Constraint:
        """Parse and check ``text``: only known names, numbers, arithmetic and comparisons."""
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError:
            raise InvalidParameterError(
                f"constraint {text!r} is not a comparison; write e.g. 'fast < slow' or 'slow >= 2*fast'"
            ) from None
        if not isinstance(tree.body, ast.Compare):
            raise InvalidParameterError(f"constraint {text!r} must compare, e.g. 'fast < slow'")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id not in names:
                raise InvalidParameterError(
                    f"constraint {text!r} names unknown parameter {node.id!r}; known: {', '.join(names)}"
                )
            allowed = (ast.Expression, ast.Compare, ast.BinOp, ast.UnaryOp, ast.USub, ast.Name,
                       ast.Load, ast.Constant, *_OPS)
            if not isinstance(node, allowed) or (
                isinstance(node, ast.Constant) and not isinstance(node.value, int | float)
            ):
                raise InvalidParameterError(
                    f"constraint {text!r} may only use parameter names, numbers, + - * / and comparisons"
                )
        return cls(text, tree)

    def __call__(self, params: Mapping[str, ParamValue]) -> bool:
        return bool(_eval(self.tree.body, params))


def _eval(node: ast.AST, env: Mapping[str, ParamValue]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        return -_eval(node.operand, env)
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    assert isinstance(node, ast.Compare)
    left = _eval(node.left, env)
    for op, comp in zip(node.ops, node.comparators, strict=True):
        right = _eval(comp, env)
        if not _OPS[type(op)](left, right):
            return False
        left = right
    return True


@dataclass(frozen=True)
class SearchSpace:
    """The parameters to vary for one strategy; the others keep their defaults."""

    strategy: Strategy
    domains: dict[str, ParamDomain]
    constraints: tuple[Constraint, ...] = ()

    def spec(self, name: str) -> ParamSpec:
        """The parameter spec of ``name`` (sl/tp/trail are float fractions)."""
        for p in self.strategy.params:
            if p.name == name:
                return p
        return _RISK_SPEC[name]

    def grid_values(self) -> dict[str, list[ParamValue]]:
        """Each parameter's grid values, validated against its spec."""
        return {n: self._values(n, d) for n, d in self.domains.items()}

    def _values(self, name: str, dom: ParamDomain) -> list[ParamValue]:
        spec = self.spec(name)
        vals = dom.values(spec.type, name) if isinstance(dom, ParamRange) else list(dom)
        return [spec.coerce(v, self.strategy.name) for v in vals]

    def bounds(self) -> dict[str, tuple[float, float]]:
        """(lowest, highest) value each varied parameter may take."""
        out = {}
        for name, dom in self.domains.items():
            vals = [dom.low, dom.high] if isinstance(dom, ParamRange) else [float(v) for v in dom]
            out[name] = (float(min(vals)), float(max(vals)))
        return out

    def allows(self, params: Mapping[str, ParamValue]) -> bool:
        """The strategy's constraints and the user's, on a full parameter mapping."""
        return self.strategy.satisfies(params) and all(c(params) for c in self.constraints)

    def expand(self, *, max_combos: int = DEFAULT_MAX_COMBOS, allow_large: bool = False) -> list[dict[str, ParamValue]]:
        """Every grid combination satisfying all constraints; clear errors otherwise."""
        combos = expand_grid(self.strategy, self.grid_values(), max_combos=max_combos, allow_large=allow_large)
        kept = [c for c in combos if all(k(c) for k in self.constraints)]
        if not kept:
            raise InvalidParameterError(
                f"no combination satisfies the constraints ({self.constraint_text()}); widen the ranges "
                "or relax the constraints"
            )
        return kept

    def constraint_text(self) -> str:
        own = [f"{a} < {b}" for a, b in self.strategy.constraints]
        return ", ".join([*own, *(c.text for c in self.constraints)]) or "none"

    def sample(self, rng: random.Random) -> dict[str, ParamValue]:
        """One random combination (constraints not applied)."""
        params = dict(self.strategy.defaults())
        for name, dom in self.domains.items():
            spec = self.spec(name)
            if isinstance(dom, ParamRange) and dom.step is None:
                if spec.type == "int":
                    params[name] = rng.randint(int(dom.low), int(dom.high))
                else:
                    params[name] = rng.uniform(dom.low, dom.high)
            else:
                params[name] = rng.choice(self._values(name, dom))
        return params

    def to_dict(self) -> dict[str, Any]:
        def one(d: ParamDomain) -> Any:
            return {"low": d.low, "high": d.high, "step": d.step} if isinstance(d, ParamRange) else list(d)

        return {
            "strategy": self.strategy.name,
            "params": {n: one(d) for n, d in self.domains.items()},
            "constraints": self.constraint_text(),
        }


def make_space(
    strategy: str | Strategy,
    params: Mapping[str, Any],
    constraints: Sequence[str] = (),
) -> SearchSpace:
    """A validated :class:`SearchSpace`.

    ``params`` maps a name to a :class:`ParamRange`, a ``{"low", "high", "step"}``
    dict, a ``"low:high[:step]"`` / ``"a,b,c"`` string, or a list of values."""
    strat = strategy if isinstance(strategy, Strategy) else get_strategy(strategy)
    if not params:
        raise InvalidParameterError(
            f"give at least one parameter to vary; {strat.name} takes "
            f"{', '.join(p.name for p in strat.params) or 'only sl/tp/trail'}"
        )
    known = [p.name for p in strat.params] + list(RISK_KEYS)
    domains: dict[str, ParamDomain] = {}
    for name, raw in params.items():
        if name not in known:
            raise InvalidParameterError(
                f"unknown parameter {name!r} for strategy {strat.name!r}; it takes {', '.join(known)}"
            )
        domains[name] = _domain(name, raw)
    space = SearchSpace(strat, domains, tuple(Constraint.parse(c, known) for c in constraints))
    for name, dom in domains.items():  # validate bounds early, with the spec's message
        spec = space.spec(name)
        if isinstance(dom, ParamRange):
            spec.coerce(dom.low, strat.name)
            spec.coerce(dom.high, strat.name)
        else:
            for v in dom:
                spec.coerce(v, strat.name)
    return space


def default_params(strategy: str | Strategy, points: int = 7) -> dict[str, ParamRange]:
    """A starting grid for every parameter: about ``points`` values from half to
    twice the default (a band around it for floats), clipped to the spec's bounds.

    For callers that know the strategy's name but not its parameters, such as
    an editor task that lets the user pick a strategy from a list."""
    strat = strategy if isinstance(strategy, Strategy) else get_strategy(strategy)
    out: dict[str, ParamRange] = {}
    for spec in strat.params:
        d = float(spec.default)
        if spec.type == "int":
            lo = max(float(spec.low), float(math.ceil(d / 2)))
            hi = min(float(spec.high), 2 * d)
            step = float(max(1, math.ceil((hi - lo) / (points - 1))))
        else:
            band = (float(spec.high) - float(spec.low)) / 10
            lo = max(float(spec.low), d - band)
            hi = min(float(spec.high), d + band)
            step = (hi - lo) / (points - 1) if hi > lo else 1.0
        out[spec.name] = ParamRange(lo, hi, step)
    return out


def _domain(name: str, raw: Any) -> ParamDomain:
    if isinstance(raw, ParamRange):
        dom = raw
    elif isinstance(raw, Mapping):
        dom = ParamRange(float(raw["low"]), float(raw["high"]),
                         None if raw.get("step") is None else float(raw["step"]))
    elif isinstance(raw, str):
        return _parse_text(name, raw)
    else:
        values = tuple(raw)
        if not values:
            raise InvalidParameterError(f"the value list for {name!r} is empty; give at least one value")
        return values
    if dom.low > dom.high:
        raise InvalidParameterError(
            f"the range for {name!r} is empty (low {dom.low:g} > high {dom.high:g}); swap the bounds"
        )
    if dom.step is not None and dom.step <= 0:
        raise InvalidParameterError(f"the step for {name!r} must be > 0, got {dom.step:g}")
    return dom


def _parse_text(name: str, text: str) -> ParamDomain:
    try:
        numbers = [float(p) for p in text.replace(":", ",").split(",") if p.strip()]
    except ValueError:
        numbers = []
    if not numbers or (":" in text and text.count(":") not in (1, 2)):
        raise InvalidParameterError(
            f"cannot read the values of {name!r} from {text!r}; write low:high[:step] (e.g. 5:50:5) "
            "or a list (e.g. 5,10,20)"
        )
    if ":" in text:
        return _domain(name, ParamRange(numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else None))
    return _domain(name, tuple(numbers))
