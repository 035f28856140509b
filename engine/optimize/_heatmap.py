"""Heatmap of an objective over two parameters, rendered to PNG bytes (no file I/O)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from engine._mpl import figure_png, pyplot
from engine.errors import InvalidParameterError
from ohlcv import DataLabel

F64 = npt.NDArray[np.float64]


def pivot(
    combos: Sequence[Mapping[str, Any]], values: Sequence[float], x: str, y: str, agg: str = "max"
) -> tuple[list[float], list[float], F64]:
    """(x values, y values, matrix[y, x]) of ``values``; cells shared by several
    combinations (other parameters varied) take their ``max`` or ``mean``."""
    if x == y:
        raise InvalidParameterError("the heatmap needs two different parameters")
    for name in (x, y):
        if not combos or name not in combos[0]:
            known = ", ".join(combos[0]) if combos else "none"
            raise InvalidParameterError(f"no parameter {name!r} in the results; choose from {known}")
    xs = sorted({float(c[x]) for c in combos})
    ys = sorted({float(c[y]) for c in combos})
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    cells: dict[tuple[int, int], list[float]] = {}
    for c, v in zip(combos, values, strict=True):
        if v is not None and math.isfinite(v):
            cells.setdefault((yi[float(c[y])], xi[float(c[x])]), []).append(float(v))
    grid = np.full((len(ys), len(xs)), np.nan)
    for (r, col), vs in cells.items():
        grid[r, col] = max(vs) if agg == "max" else float(np.mean(vs))
    return xs, ys, grid


def render_heatmap_png(
    combos: Sequence[Mapping[str, Any]],
    values: Sequence[float],
    x: str,
    y: str,
    *,
    label: str = "score",
    title: str = "",
    agg: str = "max",
    best: Mapping[str, Any] | None = None,
    dpi: int = 100,
) -> bytes:
    """A PNG heatmap of ``values`` over parameters ``x`` and ``y`` (blank cells:
    not evaluated or not rankable); the best combination is circled."""
    plt = pyplot()

    xs, ys, grid = pivot(combos, values, x, y, agg)
    fig, ax = plt.subplots(figsize=(min(12.0, 3 + 0.35 * len(xs)), min(10.0, 2.5 + 0.3 * len(ys))))
    try:
        masked = np.ma.masked_invalid(grid)
        cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
        im = ax.imshow(masked, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest")
        fig.colorbar(im, ax=ax, label=label)
        ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs], rotation=90 if len(xs) > 12 else 0)
        ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        if best is not None and x in best and y in best:
            ax.plot(xs.index(float(best[x])), ys.index(float(best[y])), "o", mfc="none",
                    mec="red", ms=14, mew=2)
        ax.set_title(title or f"{label} by {x} and {y}" + (f" ({agg} over other params)" if agg else ""))
        return figure_png(fig, dpi)
    finally:
        plt.close(fig)


def result_heatmap_png(
    result: Any, x: str, y: str, *, metric: str | None = None, agg: str = "max", data: DataLabel | None = None
) -> bytes:
    """Heatmap of an :class:`~engine.optimize.OptimizationResult`: its objective
    score, or ``metric`` (any metric key) when given. ``data`` (from
    `ohlcv.describe_data`) tags the title, so synthetic data is never taken for market data."""
    if metric is None:
        values = [float(s) for s in result.scores]
        label = result.objective.label
    else:
        values = [math.nan if m.get(metric) is None else float(m[metric]) for m in result.metrics]
        label = metric
    best = result.best["params"] if result.best else None
    title = f"{result.strategy}: {label} by {x} and {y}" + (f" [{data.tag}]" if data and data.tag else "")
    return render_heatmap_png(result.combos, values, x, y, label=label, title=title, agg=agg, best=best)
