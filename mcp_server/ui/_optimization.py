"""The heatmap and walk-forward views' data, and the backtest of one heatmap cell.

An optimisation's table can hold 100,000 rows over many parameters; the heatmap
shows two of them (the two whose values move the score most, unless asked) on at
most `MAX_SIDE` x `MAX_SIDE` cells, the others fixed at the best row's values
where that combination was evaluated, else the cell's best row. Each cell carries
its row's full parameters, so a click runs exactly that backtest.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

import engine as E
from mcp_server.candles import LocalDataSpec
from mcp_server.errors import ResultKindError
from mcp_server.numbers import round_json
from mcp_server.ui._report import bucket_starts, candle_columns, report_data
from ohlcv import parse_time_ms

if TYPE_CHECKING:  # the context imports the jobs, which import the tools, which import this
    from mcp_server.context import AppContext

__all__ = ["heatmap_data", "run_cell", "walkforward_data"]

MAX_SIDE = 25
SEARCH_KINDS = ("grid", "random", "bayes")


async def _table(context: AppContext, oid: str, kinds: tuple[str, ...], view: str) -> dict[str, Any]:
    table = await context.optimizations.load(oid)
    if table.get("kind") not in kinds:
        shown = "walk-forward" if table.get("kind") == "walk_forward" else "optimisation"
        raise ResultKindError(f"{oid} is a {shown} result: the {view} view cannot show it")
    if "view" not in table:
        raise ResultKindError(f"{oid} was stored without the data a view needs; run it again")
    return table


def _score(row: dict[str, Any]) -> float:
    v = row.get("score")
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else -math.inf


def _influence(rows: list[dict[str, Any]], name: str) -> float:
    """How much the mean score moves with `name`: the spread of its per-value means."""
    groups: dict[Any, list[float]] = defaultdict(list)
    for r in rows:
        s = _score(r)
        if math.isfinite(s):
            groups[r["params"].get(name)].append(s)
    means = [sum(g) / len(g) for g in groups.values() if g]
    return float(np.std(means)) if len(means) > 1 else 0.0


def _axis(rows: list[dict[str, Any]], name: str) -> tuple[list[Any], dict[Any, int]]:
    """The axis values of `name` and each row value's cell index (binned when too many)."""
    values = sorted({r["params"][name] for r in rows if name in r["params"]})
    if len(values) <= MAX_SIDE:
        return values, {v: k for k, v in enumerate(values)}
    lo, hi = float(values[0]), float(values[-1])
    width = (hi - lo) / MAX_SIDE or 1.0
    index = {v: min(MAX_SIDE - 1, int((float(v) - lo) / width)) for v in values}
    centres = [float(f"{lo + (k + 0.5) * width:.6g}") for k in range(MAX_SIDE)]
    return centres, index


def _pick_axes(
    rows: list[dict[str, Any]], varied: list[str], x: str | None, y: str | None
) -> list[str]:
    ranked = sorted(varied, key=lambda n: -_influence(rows, n))
    chosen = list(dict.fromkeys(a for a in (x, y) if a in varied))  # x == y: one axis chosen
    chosen += [n for n in ranked if n not in chosen]
    return chosen[:2]


async def heatmap_data(
    context: AppContext, optimization_id: str, *, x: str | None = None, y: str | None = None
) -> dict[str, Any]:
    """The heatmap view's data for optimisation `optimization_id` (axes `x`, `y` if given)."""
    table = await _table(context, optimization_id, SEARCH_KINDS, "heatmap")
    rows, view = table["rows"], table["view"]
    varied = list(view["varied"])
    scored = [r for r in rows if math.isfinite(_score(r))]
    best = max(scored, key=_score) if scored else None  # none scored (too few trades): no map
    axes = _pick_axes(rows, varied, x, y) if len(varied) >= 2 else varied[:1]
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    if axes and best is not None:
        xs, xi = _axis(rows, axes[0])
        ys, yi = _axis(rows, axes[1]) if len(axes) > 1 else ([None], {})
        fixed = {k: v for k, v in best["params"].items() if k not in axes}
        for r in rows:
            p = r["params"]
            key = (xi[p[axes[0]]], yi.get(p.get(axes[1]), 0) if len(axes) > 1 else 0)
            held = cells.get(key)
            at_best = all(p.get(k) == v for k, v in fixed.items())
            if held is None or (at_best, _score(r)) > (held["at_best"], _score(held["row"])):
                cells[key] = {"at_best": at_best, "row": r}
    else:
        xs, ys = [], []
    return round_json({
        "kind": "heatmap",
        "id": optimization_id,
        "method": table["kind"],
        "strategy": table["strategy"],
        "objective": view["objective"],
        "varied": varied,
        "axes": axes,
        "x": xs,
        "y": ys,
        "cells": [{"x": i, "y": j, "score": c["row"].get("score"), "params": c["row"]["params"],
                   "n_trades": c["row"].get("n_trades"), "best": c["row"] is best}
                  for (i, j), c in sorted(cells.items())],
        "best": best,
        "overfit": view.get("overfit"),
        "evaluated": len(rows),
    })  # fmt: skip


def _seconds(iso: str) -> int:
    ms = parse_time_ms(iso)
    return 0 if ms is None else ms // 1000


async def walkforward_data(context: AppContext, optimization_id: str) -> dict[str, Any]:
    """The walk-forward view's data: each split's train and test windows (UTC seconds) with
    their in-sample and out-of-sample metrics, and the candles they cover."""
    table = await _table(context, optimization_id, ("walk_forward",), "walk-forward")
    view = table["view"]
    data = await context.candles.load(LocalDataSpec.model_validate(view["data"]))
    candles = data.candles
    splits = []
    for row in table["rows"]:
        train = [_seconds(t) for t in row["train"]]
        test = [_seconds(t) for t in row["test"]]
        splits.append({**row, "train_s": train, "test_s": test})
    return round_json({
        "kind": "walkforward",
        "id": optimization_id,
        "strategy": table["strategy"],
        "mode": view["mode"],
        "objective": view["objective"],
        "oos": view["oos"],
        "efficiency": view["efficiency"],
        "symbol": candles.symbol,
        "interval": candles.interval,
        "synthetic": candles.synthetic,
        "candles": candle_columns(candles, bucket_starts(len(candles))),
        "splits": splits,
    })  # fmt: skip


async def run_cell(
    context: AppContext, optimization_id: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The backtest of one heatmap cell (`params` on the optimisation's data and config),
    as `report_data`, with the optimisation id it came from."""
    table = await _table(context, optimization_id, SEARCH_KINDS, "heatmap")
    view = table["view"]
    data = await context.candles.load(LocalDataSpec.model_validate(view["data"]))
    config = E.BacktestConfig.model_validate(view["config"])
    stored = await context.results.run(data, table["strategy"], params, config, chart=False)
    return {**await report_data(context, stored.id), "optimization_id": optimization_id}
