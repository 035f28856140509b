"""Toolset `optimize`: optimize_grid, optimize_random, optimize_bayesian, walk_forward.

Each tool runs as a job (`context.jobs`: the embedded worker, or the broker's workers):
it waits for the job, relaying its progress as MCP progress notifications, and cancels
the job when the client cancels the call; with `wait=false` it answers the job id at
once. Results are compact; the full ranked table is the resource
``optimization://{id}/table`` and the heatmap is attached as an image.
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
import numba
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

import engine as E
from mcp_server._opt_tables import search_table, walk_table
from mcp_server.candles import DataSet, DataSpec, LocalDataSpec
from mcp_server.context import AppContext
from mcp_server.tools._args import SearchSpec, config_or_default
from mcp_server.tools._jobwait import run_as_job
from mcp_server.tools._runtime import READ_ONLY, app, tool, tool_result
from mcp_server.tools._ticket import Wait
from mcp_server.ui import VIEW_URIS, run_cell
from ohlcv import Candles, describe_data

if TYPE_CHECKING:  # the jobs package imports this module (clean_json)
    from mcp_server.jobs import JobRecord, JobService

__all__ = ["clean_json", "job_answer", "optimize_bayesian", "optimize_grid", "optimize_random",
           "run_backtest_cell", "table_heatmap", "walk_forward"]  # fmt: skip

SearchSeed = Annotated[int, Field(ge=0, le=2**31 - 1, description="Seed of the sampler (reproducible)")]
Heatmap = Annotated[
    bool,
    Field(description="Attach the heatmap PNG of the first two params"),
]


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


def _catalog_parts(
    s: dict[str, Any], data: dict[str, Any], job: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The catalog's request and summary of a search or walk-forward (`s`: the job's
    summary, `job`: the job's request, with the fingerprint and the search)."""
    search = job.get("search") or {}
    options = {k: v for k, v in job.items() if k not in ("data", "fingerprint", "search")}
    request = {"symbol": data.get("symbol", ""), "interval": data.get("interval", ""),
               "strategy": s["strategy"], "data": data, "fingerprint": job.get("fingerprint", ""),
               "space": s.get("space") or {"params": search.get("params", {})},
               "objective": s.get("objective") or search.get("objective") or {}, "options": options}  # fmt: skip
    best = s.get("best")
    summary: dict[str, Any] = {
        "evaluated": s.get("evaluated", s.get("n_splits", 0)),
        "best": None if not best else {
            "params": best.get("params", {}), "score": best.get("score"),
            "metrics": {k: v for k, v in best.items() if k not in ("params", "score")},
        },
        "overfitting": s.get("overfit") or {},
    }  # fmt: skip
    for extra in ("planned", "cancelled", "elapsed_s", "oos", "efficiency", "oos_psr", "mode"):
        if extra in s:
            summary[extra] = s[extra]
    return clean_json(request), clean_json(summary)


async def _search_result(
    context: AppContext, payload: dict[str, Any], candles: Candles, search: SearchSpec, heatmap: bool,
    data: dict[str, Any], key: str = "", job: dict[str, Any] | None = None,
) -> CallToolResult:  # fmt: skip
    """The tool's answer from a search job's result (`summary` and ranked `table`); `data`
    (the data spec) is kept with the table, so the heatmap view can run a cell's backtest;
    `key`: the job id (the table's id, and reading a job's result again reuses its
    table); `job`: the job's request (recorded in the catalog with the table)."""
    s = payload["summary"]
    config = config_or_default(search.config).model_dump(mode="json")
    table = search_table(s, payload["table"], data, config, candles.synthetic)
    draw = table_heatmap(table) if s["best"] is not None else None
    request, summary = _catalog_parts(s, data, job or {})
    oid = await context.optimizations.keep(
        table, heatmap=draw, key=key, request=request, summary=summary
    )
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
        drawn = await anyio.to_thread.run_sync(context.optimizations.heatmap, oid)
        png = base64.b64encode(drawn).decode()
        blocks.append(ImageContent(type="image", data=png, mime_type="image/png"))
    return tool_result(model.model_dump(mode="json"), *blocks)


def table_heatmap(table: dict[str, Any]) -> Callable[[], bytes] | None:
    """The heatmap renderer of a kept search table (over its first two varied params),
    None when it varied fewer or scored nothing: the same from memory or the catalog."""
    view, rows = table.get("view") or {}, table.get("rows") or []
    varied = list(view.get("varied") or ())
    if table.get("kind") not in ("grid", "random", "bayes") or len(varied) < 2 or not rows:
        return None
    if rows[0].get("score") is None:
        return None  # ranked best first: nothing scored
    summary = {"objective": view.get("objective") or {"label": "score"}, "best": rows[0],
               "strategy": table.get("strategy")}  # fmt: skip
    tag = describe_data(None, bool(view.get("synthetic")))  # the heatmap's title says synthetic data
    return functools.partial(_heatmap, summary, rows, varied[0], varied[1], tag)


def _heatmap(
    summary: dict[str, Any], rows: list[dict[str, Any]], x: str, y: str, tag: Any
) -> bytes:
    """The heatmap of the ranked table, as `E.result_heatmap_png` draws a result."""
    scores = [math.nan if r["score"] is None else float(r["score"]) for r in rows]
    objective = SimpleNamespace(label=summary["objective"]["label"])
    result = SimpleNamespace(scores=scores, objective=objective, best=summary["best"],
                             strategy=summary["strategy"], combos=[r["params"] for r in rows])  # fmt: skip
    return E.result_heatmap_png(result, x, y, data=tag)


def _config_notes(config: E.BacktestConfig, candles: Candles) -> list[str]:
    """The set-up warnings every run of the search shares (e.g. a fee typed as a percentage)."""
    return E.config_warnings(config, float(candles.open[0])) if len(candles) else []


async def _walk_result(
    context: AppContext, payload: dict[str, Any], candles: Candles, data: dict[str, Any],
    key: str = "", job: dict[str, Any] | None = None,
) -> WalkForwardSummary:
    """The tool's answer from a walk-forward job's result (`data`, `key`: as `_search_result`)."""
    s = payload["summary"]
    request, summary = _catalog_parts(s, data, job or {})
    oid = await context.optimizations.keep(
        walk_table(s, data, candles.synthetic), key=key, request=request, summary=summary
    )
    return WalkForwardSummary(
        id=oid, strategy=s["strategy"], mode=s["mode"], n_splits=s["n_splits"],
        cancelled=s["cancelled"], elapsed_s=s["elapsed_s"], synthetic=candles.synthetic,
        oos=s["oos"], efficiency=s["efficiency"], stability=s["stability"], oos_psr=s["oos_psr"],
        splits=s["splits"], table=f"optimization://{oid}/table", notes=s["notes"],
    )  # fmt: skip


class _Submitted:
    """A job's submission that remembers its record: the answer names the table by the
    job's id and records the job's request with it."""

    def __init__(self, submit: Callable[[], JobRecord]) -> None:
        self._submit = submit
        self.record: JobRecord | None = None

    def __call__(self) -> JobRecord:
        self.record = self._submit()
        return self.record

    def keys(self) -> tuple[str, dict[str, Any] | None]:
        r = self.record
        return ("", None) if r is None else (r.id, r.request)


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


@tool("Optimize (grid)", READ_ONLY, view=VIEW_URIS["heatmap"])
async def optimize_grid(
    ctx: Context,
    search: SearchSpec,  # every model argument is shown flat (tools._runtime)
    max_combos: Annotated[int, Field(ge=1, le=1_000_000, description="Refuse larger grids")] = 100_000,
    data: DataSpec = DataSpec(),
    include_heatmap: Heatmap = False,
    wait: Wait = True,
) -> Annotated[CallToolResult, OptimizationSummary]:
    """Evaluate every combination of the ranges and rank them by the objective: best,
    top 10 and overfitting statistics (deflated Sharpe, PBO, Sharpe CI: read them and
    their notes before trusting the best). Large spaces: optimize_bayesian."""
    _check_grid(search, max_combos, cap=1_000_000)  # fail fast, before loading data
    return await _search(ctx, search, data, include_heatmap, wait, lambda jobs, loaded: jobs.submit_search(
        loaded, search, method="grid", max_combos=max_combos))  # fmt: skip


@tool("Optimize (random)", READ_ONLY, view=VIEW_URIS["heatmap"])
async def optimize_random(
    ctx: Context,
    search: SearchSpec,
    n_samples: Annotated[int, Field(ge=1, le=5000, description="Distinct random combinations")] = 200,
    search_seed: SearchSeed = 0,
    data: DataSpec = DataSpec(),
    include_heatmap: Heatmap = False,
    wait: Wait = True,
) -> Annotated[CallToolResult, OptimizationSummary]:
    """Evaluate n_samples random combinations (seeded), ranked as optimize_grid; float
    ranges without a step are sampled continuously."""
    return await _search(ctx, search, data, include_heatmap, wait, lambda jobs, loaded: jobs.submit_search(
        loaded, search, method="random", n_samples=n_samples, seed=search_seed))  # fmt: skip


@tool("Optimize (Bayesian)", READ_ONLY, view=VIEW_URIS["heatmap"])
async def optimize_bayesian(
    ctx: Context,
    search: SearchSpec,
    n_trials: Annotated[int, Field(ge=1, le=1000, description="Distinct trials to evaluate")] = 100,
    search_seed: SearchSeed = 0,
    prune: Annotated[bool, Field(description="Drop trials trailing on the first half of the data")] = False,
    data: DataSpec = DataSpec(),
    include_heatmap: Heatmap = False,
    wait: Wait = True,
) -> Annotated[CallToolResult, OptimizationSummary]:
    """Bayesian search (optuna TPE, seeded), ranked as optimize_grid: for large or
    continuous spaces."""
    # the engine's own batch size, so the trials (hence the result) are those of an
    # in-process optimize_bayes on this machine
    batch = max(8, 4 * numba.get_num_threads())
    return await _search(ctx, search, data, include_heatmap, wait, lambda jobs, loaded: jobs.submit_bayes(
        loaded, search, n_trials=n_trials, seed=search_seed, prune=prune, batch_size=batch))  # fmt: skip


async def _search(
    ctx: Context, search: SearchSpec, data: DataSpec, heatmap: bool, wait: bool,
    submit: Callable[[JobService, DataSet], JobRecord],
) -> Any:  # fmt: skip
    """Load the data, run the search as a job (see `_jobwait`) and answer as the tool."""
    context = app(ctx)
    loaded = await context.candles.load(data)
    job = _Submitted(lambda: submit(context.jobs, loaded))
    return await run_as_job(
        ctx, context.jobs, job, wait,
        lambda payload: _search_result(context, payload, loaded.candles, search, heatmap,
                                       loaded.spec.model_dump(mode="json"), *job.keys()),
    )  # fmt: skip


@tool("Walk-forward", READ_ONLY, view=VIEW_URIS["walkforward"])
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
    wait: Wait = True,
) -> Annotated[CallToolResult, WalkForwardSummary]:
    """Walk-forward: optimise on each train window, test the choice on the next window,
    stitch the tests. Returns out-of-sample metrics, walk-forward efficiency, parameter
    stability and the splits."""
    _check_grid(search, max_combos, cap=100_000)
    context = app(ctx)
    loaded = await context.candles.load(data)
    split = {"n_splits": n_splits, "mode": mode, "ratio": ratio, "train_bars": train_bars,
             "test_bars": test_bars}  # fmt: skip
    job = _Submitted(lambda: context.jobs.submit_walk_forward(loaded, search, **split))
    return await run_as_job(
        ctx, context.jobs, job, wait,
        lambda payload: _walk_result(context, payload, loaded.candles,
                                     loaded.spec.model_dump(mode="json"), *job.keys()),
    )  # fmt: skip


# Only views call it (visibility "app"): no title, the least annotations, a one-line
# description, since tools/list still carries it to the model's host.
@tool("", ToolAnnotations(read_only_hint=True), view=VIEW_URIS["heatmap"], visibility=("app",))
async def run_backtest_cell(
    ctx: Context, id: Annotated[str, Field(max_length=40)], params: dict[str, Any]
) -> CallToolResult:
    """Backtest one heatmap cell."""
    report = await run_cell(app(ctx), id, params)
    m = report["metrics"]
    text = (f"backtest {report['id']}: {report['strategy']} {report['params']}, "
            f"{m.get('n_trades')} trades, total_return {m.get('total_return')}")  # fmt: skip
    # the drawing data is for the view alone: hosts do not add structuredContent to the
    # model's context, and the text stays one line
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=report)


def _brief(best: dict[str, Any] | None) -> dict[str, Any] | None:
    """The best row without the long tail of metrics (they are in the table)."""
    if best is None:
        return None
    keep = ("params", "score", "sharpe", "sortino", "calmar", "total_return", "max_drawdown",
            "profit_factor", "win_rate", "n_trades")  # fmt: skip
    return {k: best[k] for k in keep if k in best}


async def job_answer(context: AppContext, kind: str, request: dict[str, Any],
                     payload: dict[str, Any], job_id: str = "") -> dict[str, Any]:  # fmt: skip
    """A finished job's result as the synchronous tool answers it (optimize_* and
    walk_forward); any other kind's result as stored. Its table is kept once per `job_id`."""
    if kind not in ("grid", "random", "bayes", "walk_forward"):
        return payload
    candles = (await context.candles.load(LocalDataSpec.model_validate(request["data"]))).candles
    if kind == "walk_forward":
        walk = await _walk_result(context, payload, candles, request["data"], job_id, request)
        return walk.model_dump(mode="json")
    search = SearchSpec.model_validate(request["search"])
    answer = await _search_result(context, payload, candles, search, False, request["data"], job_id, request)
    body = answer.structured_content
    return body or {}
