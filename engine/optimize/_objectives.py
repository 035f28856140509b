"""What an optimiser maximises: one metric or a weighted mix, with a trade floor.

Scores are plain floats where higher is better; a combination below the
minimum trade count, or whose metric is undefined (no trades, zero variance),
scores NaN so every optimiser skips it instead of ranking it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.errors import InvalidParameterError

#: Metrics an objective may use (all "higher is better").
OBJECTIVE_METRICS: tuple[str, ...] = ("sharpe", "sortino", "calmar", "total_return", "profit_factor")


@dataclass(frozen=True)
class Objective:
    """Weighted sum of metrics; ``min_trades`` filters out thin samples."""

    weights: dict[str, float] = field(default_factory=lambda: {"sharpe": 1.0})
    min_trades: int = 0

    def __post_init__(self) -> None:
        if not self.weights:
            raise InvalidParameterError("the objective needs at least one metric, e.g. 'sharpe'")
        for key, w in self.weights.items():
            if key not in OBJECTIVE_METRICS:
                raise InvalidParameterError(
                    f"unknown objective metric {key!r}; choose from {', '.join(OBJECTIVE_METRICS)}"
                )
            if not math.isfinite(w) or w == 0:
                raise InvalidParameterError(f"the weight of {key!r} must be a non-zero number, got {w}")
        if self.min_trades < 0:
            raise InvalidParameterError(f"min_trades must be >= 0, got {self.min_trades}")

    @property
    def label(self) -> str:
        """``sharpe`` or ``0.7*sharpe+0.3*calmar``: how the objective is shown."""
        if len(self.weights) == 1 and next(iter(self.weights.values())) == 1.0:
            return next(iter(self.weights))
        return "+".join(f"{w:g}*{k}" for k, w in self.weights.items())

    def score(self, metrics: Mapping[str, Any]) -> float:
        """The objective of one metric mapping, NaN when it cannot be ranked."""
        if int(metrics.get("n_trades") or 0) < self.min_trades:
            return math.nan
        total = 0.0
        for key, w in self.weights.items():
            value = metrics.get(key)
            if value is None or not math.isfinite(float(value)):
                return math.nan
            total += w * float(value)
        return total

    def scores(self, metrics: Sequence[Mapping[str, Any]]) -> npt.NDArray[np.float64]:
        """Scores of many metric mappings, as a float array (NaN = unrankable)."""
        return np.array([self.score(m) for m in metrics], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "weights": dict(self.weights), "min_trades": self.min_trades}


def parse_objective(text: str | Objective | Mapping[str, float], min_trades: int = 0) -> Objective:
    """An :class:`Objective` from ``"sharpe"``, ``"sharpe:0.7,calmar:0.3"`` or a mapping."""
    if isinstance(text, Objective):
        return text
    if isinstance(text, Mapping):
        return Objective({str(k): float(v) for k, v in text.items()}, min_trades)
    weights: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, weight = part.partition(":")
        try:
            weights[name.strip()] = float(weight) if sep else 1.0
        except ValueError:
            raise InvalidParameterError(
                f"objective weight for {name.strip()!r} must be a number, got {weight!r} "
                "(write e.g. 'sharpe:0.7,calmar:0.3')"
            ) from None
    return Objective(weights, min_trades)
