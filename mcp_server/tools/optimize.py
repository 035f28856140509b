"""Toolset `optimize`: optimize_grid, optimize_random, optimize_bayesian, walk_forward.

Each tool runs the engine in a worker thread, relays its progress as MCP progress
notifications, and stops the run (after the current chunk, within about a second)
when the client cancels. Results are compact; the full ranked table is the
resource ``optimization://{id}/table`` and the heatmap is attached as an image.
"""

from __future__ import annotations

import base64
import functools
import math
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ImageContent
from pydantic import BaseModel, Field

import engine as E
from mcp_server.candles import DataSpec
from mcp_server.context import AppContext
from mcp_server.tools._args import SearchSpec, config_or_default
from mcp_server.tools._runtime import READ_ONLY, app, progress, tool, tool_result
from ohlcv import Candles, describe_data

__all__ = ["clean_json", "optimize_bayesian", "optimize_grid", "optimize_random", "walk_forward"]

SearchSeed = Annotated[int, Field(ge=0, le=2**31 - 1, description="Seed of the sampler (reproducible)")]
Heatmap = Annotated[
    bool,
    Field(description="Attach the heatmap PNG of the first two params"),
]
Progress = Callable[[int, int, str], None]
Job = Callable[[Progress, Callable[[], bool]], Any]


class OptimizationSummary(BaseModel):
    """Compact result: best, top rows, overfitting statistics; the full table is a resource."""

    id: str = Field(description="Use with the optimization://{id}/table resource")
    method: str
    strategy: str
    objective: dict[str, Any]
    evaluated: int
    planned: int
    cancelled: bool
    elapsed_s: float
    synthetic: bool
    best: dict[str, Any] | None
    top: list[dict[str, Any]] = Field(description="The runners-up (ranks 2..10)")
    overfit: dict[str, Any] | None = Field(
        description="deflated_sharpe (prob. true Sharpe > 0 after N trials), pbo (prob. of "
        "backtest overfitting), sharpe_ci (bootstrap CI of the best Sharpe)"
    )
    table: str = Field(description="URI of the full ranked table (JSON)")
    heatmap: str | None = Field(None, description="URI of the heatmap PNG of the first two params")
    notes: list[str] = Field(default_factory=list)


class WalkForwardSummary(BaseModel):
    """Stitched out-of-sample result, efficiency, stability and the per-split table."""

    id: str
    strategy: str
    mode: str
    n_splits: int
    cancelled: bool
    elapsed_s: float
    synthetic: bool
    oos: dict[str, Any]
    efficiency: dict[str, float | None]
    stability: dict[str, dict[str, Any]]
    oos_psr: float | None
    splits: list[dict[str, Any]]
    table: str
    notes: list[str] = Field(default_factory=list)


def clean_json(x: Any) -> Any:
    """`x` with non-finite floats as None and numpy scalars as floats (valid JSON)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: clean_json(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean_json(v) for v in x]
    return float(x) if hasattr(x, "dtype") else x


async def _run(ctx: Context, job: Job) -> Any:
    """Run ``job(progress, should_stop)`` in a thread; relay progress; stop on cancel."""
    stop = threading.Event()
    latest: list[tuple[int, int, str]] = []
    result: list[Any] = []
    errors: list[Exception] = []

    async def relay() -> None:
        sent = 0
        while True:
            await anyio.sleep(0.2)
            if len(latest) > sent:
                sent = len(latest)
                done, total, phase = latest[-1]
                await progress(ctx, done, max(total, 1), phase)

    def work() -> None:
        try:
            result.append(job(lambda d, t, p: latest.append((d, t, p)), stop.is_set))
        except Exception as exc:  # re-raised bare below, so the tool wrapper can map it
            errors.append(exc)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(relay)
            # The engine lane: numba's parallel kernels must not run from two threads at once.
            await anyio.to_thread.run_sync(work, limiter=app(ctx).engine_lane)
            tg.cancel_scope.cancel()
    finally:
        stop.set()  # a cancelled request ends the engine run after its current chunk
    if errors:
        raise errors[0]
    if latest:  # runs shorter than one relay tick still report where they ended
        done, total, phase = latest[-1]
        await progress(ctx, done, max(total, 1), phase)
    return result[0]


def _search_result(
    context: AppContext, res: Any, candles: Candles, search: SearchSpec, heatmap: bool
) -> CallToolResult:
    varied = list(res.space["params"])
    draw: Callable[[], bytes] | None = None
    if len(varied) >= 2 and res.best is not None:
        tag = describe_data(None, candles.synthetic)  # story: the heatmap's title says synthetic data
        draw = functools.partial(E.result_heatmap_png, res, varied[0], varied[1], data=tag)
    table = {"kind": res.method, "strategy": res.strategy, "rows": res.table()}
    oid = context.optimizations.put(table, heatmap=draw)
    s = clean_json(res.summary(10))
    model = OptimizationSummary(
        id=oid, method=s["method"], strategy=s["strategy"], objective=s["objective"],
        evaluated=s["evaluated"], planned=s["planned"], cancelled=s["cancelled"],
        elapsed_s=s["elapsed_s"], synthetic=candles.synthetic, best=_brief(s["best"]),
        top=s["top"][1:] if s["best"] else s["top"], overfit=s["overfit"],
        table=f"optimization://{oid}/table",
        heatmap=f"optimization://{oid}/heatmap" if draw is not None else None,
        notes=[*_config_notes(config_or_default(search.config), candles), *s["notes"]],
    )  # fmt: skip
    blocks = []
    if heatmap and draw is not None:
        png = base64.b64encode(context.optimizations.heatmap(oid)).decode()
        blocks.append(ImageContent(type="image", data=png, mime_type="image/png"))
    return tool_result(model.model_dump(mode="json"), *blocks)


def _config_notes(config: E.BacktestConfig, candles: Candles) -> list[str]:
    """The set-up warnings every run of the search shares (e.g. a fee typed as a percentage)."""
    return E.config_warnings(config, float(candles.open[0])) if len(candles) else []


async def _optimized(
    ctx: Context, search: SearchSpec, data: DataSpec, run: Callable[..., Any], **extra: Any
) -> tuple[Any, Candles]:
    """Load the data, then run one engine search (`E.optimize_*`, `E.walk_forward`) in a
    worker thread with progress and cancellation; the result and the candles."""
    candles = (await app(ctx).candles.load(data)).candles
    space, config = search.space(), config_or_default(search.config)
    result = await _run(ctx, lambda progress, stop: run(
        candles, space, objective=search.objective, config=config, min_trades=search.min_trades,
        progress=progress, should_stop=stop, **extra,
    ))  # fmt: skip
    return result, candles


def _check_grid(search: SearchSpec, max_combos: int, *, cap: int) -> None:
    """Refuse a grid above `max_combos` with fixes a tool caller has (the engine's text
    names its own keyword argument, which no tool takes)."""
    try:
        search.space().expand(max_combos=max_combos)
    except E.GridTooLargeError as exc:
        size = str(exc).split(";")[0]
        more = f", or raise max_combos (at most {cap:,})" if max_combos < cap else ""
        raise E.GridTooLargeError(
            f"{size}; sample it with optimize_random or optimize_bayesian{more}"
        ) from None


@tool("Optimize (grid)", READ_ONLY)
async def optimize_grid(
    ctx: Context,
    search: SearchSpec,  # every model argument is shown flat (tools._runtime)
    max_combos: Annotated[int, Field(ge=1, le=1_000_000, description="Refuse larger grids")] = 100_000,
    data: DataSpec = DataSpec(),
    include_heatmap: Heatmap = False,
) -> Annotated[CallToolResult, OptimizationSummary]:
    """Evaluate every combination of the ranges and rank them by the objective: best,
    top 10 and overfitting statistics (deflated Sharpe, PBO, Sharpe CI: read them and
    their notes before trusting the best). Large spaces: optimize_bayesian."""
    _check_grid(search, max_combos, cap=1_000_000)  # fail fast, before loading data
    res, candles = await _optimized(ctx, search, data, E.optimize_grid, max_combos=max_combos)
    return _search_result(app(ctx), res, candles, search, include_heatmap)


@tool("Optimize (random)", READ_ONLY)
async def optimize_random(
    ctx: Context,
    search: SearchSpec,
    n_samples: Annotated[int, Field(ge=1, le=5000, description="Distinct random combinations")] = 200,
    search_seed: SearchSeed = 0,
    data: DataSpec = DataSpec(),
    include_heatmap: Heatmap = False,
) -> Annotated[CallToolResult, OptimizationSummary]:
    """Evaluate n_samples random combinations (seeded), ranked as optimize_grid; float
    ranges without a step are sampled continuously."""
    res, candles = await _optimized(
        ctx, search, data, E.optimize_random, n_samples=n_samples, seed=search_seed
    )
    return _search_result(app(ctx), res, candles, search, include_heatmap)


@tool("Optimize (Bayesian)", READ_ONLY)
async def optimize_bayesian(
    ctx: Context,
    search: SearchSpec,
    n_trials: Annotated[int, Field(ge=1, le=1000, description="Distinct trials to evaluate")] = 100,
    search_seed: SearchSeed = 0,
    prune: Annotated[bool, Field(description="Drop trials trailing on the first half of the data")] = False,
    data: DataSpec = DataSpec(),
    include_heatmap: Heatmap = False,
) -> Annotated[CallToolResult, OptimizationSummary]:
    """Bayesian search (optuna TPE, seeded), ranked as optimize_grid: for large or
    continuous spaces."""
    res, candles = await _optimized(
        ctx, search, data, E.optimize_bayes, n_trials=n_trials, seed=search_seed, prune=prune
    )
    return _search_result(app(ctx), res, candles, search, include_heatmap)


@tool("Walk-forward", READ_ONLY)
async def walk_forward(
    ctx: Context,
    search: SearchSpec,
    n_splits: Annotated[int, Field(ge=1, le=100, description="Number of train/test splits")] = 5,
    mode: Annotated[
        Literal["rolling", "anchored"],
        Field(description="rolling: fixed train length; anchored: train from the start"),
    ] = "rolling",
    ratio: Annotated[float, Field(gt=0, le=100, description="Train length / test length")] = 4.0,
    train_bars: Annotated[int | None, Field(ge=2, description="Train length (overrides ratio)")] = None,
    test_bars: Annotated[int | None, Field(ge=2, description="Test length (overrides ratio)")] = None,
    max_combos: Annotated[int, Field(ge=1, le=100_000, description="Refuse larger grids")] = 10_000,
    data: DataSpec = DataSpec(),
) -> WalkForwardSummary:
    """Walk-forward: optimise on each train window, test the choice on the next window,
    stitch the tests. Returns out-of-sample metrics, walk-forward efficiency, parameter
    stability and the splits."""
    _check_grid(search, max_combos, cap=100_000)
    res, candles = await _optimized(
        ctx, search, data, E.walk_forward, n_splits=n_splits, mode=mode, ratio=ratio,
        train_bars=train_bars, test_bars=test_bars, max_combos=max_combos,
    )  # fmt: skip
    s = clean_json(res.summary())
    oid = app(ctx).optimizations.put({"kind": "walk_forward", "strategy": res.strategy, "rows": s["splits"]})
    return WalkForwardSummary(
        id=oid, strategy=s["strategy"], mode=s["mode"], n_splits=s["n_splits"],
        cancelled=s["cancelled"], elapsed_s=s["elapsed_s"], synthetic=candles.synthetic,
        oos=s["oos"], efficiency=s["efficiency"], stability=s["stability"], oos_psr=s["oos_psr"],
        splits=s["splits"], table=f"optimization://{oid}/table", notes=s["notes"],
    )  # fmt: skip


def _brief(best: dict[str, Any] | None) -> dict[str, Any] | None:
    """The best row without the long tail of metrics (they are in the table)."""
    if best is None:
        return None
    keep = ("params", "score", "sharpe", "sortino", "calmar", "total_return", "max_drawdown",
            "profit_factor", "win_rate", "n_trades")  # fmt: skip
    return {k: best[k] for k in keep if k in best}
