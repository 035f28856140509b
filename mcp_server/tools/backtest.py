"""Toolset `backtest`: list_strategies, run_backtest, compare_strategies."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ImageContent
from pydantic import BaseModel, ConfigDict, Field, model_validator

import engine as E
from mcp_server.candles import DataSpec
from mcp_server.context import AppContext
from mcp_server.errors import RunArgumentError
from mcp_server.results import BacktestSummary, StoredBacktest, headline, summary_model
from mcp_server.stored_runs import data_sets
from mcp_server.tools._args import (
    ConfigArg,
    ParamsArg,
    StrategyName,
    StrategySpec,
    config_or_default,
)
from mcp_server.tools._jobwait import run_as_job
from mcp_server.tools._routed import routed
from mcp_server.tools._runtime import READ_ONLY, app, progress, tool, tool_result
from mcp_server.tools._ticket import Wait
from mcp_server.tools.runs import RunId
from mcp_server.ui import VIEW_URIS
from mcp_server.ui_links import page_address, page_path

__all__ = [
    "backtest_once",
    "compare_answer",
    "compare_stored",
    "compare_strategies",
    "list_strategies",
    "run_backtest",
]

RankBy = Literal["sharpe", "sortino", "calmar", "total_return", "profit_factor", "max_drawdown"]


class ParamInfo(BaseModel):
    name: str
    type: Literal["int", "float"]
    default: int | float
    low: int | float
    high: int | float
    description: str

    @model_validator(mode="after")
    def _ints(self) -> ParamInfo:
        """An int parameter's numbers as ints: `20`, not `20.0`."""
        if self.type == "int":
            self.default, self.low, self.high = int(self.default), int(self.low), int(self.high)
        return self


class StrategyInfo(BaseModel):
    name: str
    description: str
    params: list[ParamInfo]
    constraints: list[str]


class StrategyCatalog(BaseModel):
    strategies: list[StrategyInfo]
    config_note: str


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: StrategyName  # type: ignore[valid-type]
    params: ParamsArg = Field(default_factory=dict)
    config: E.BacktestConfig | None = Field(
        None, description="Execution options for this candidate (default: the shared config)"
    )
    label: str | None = Field(None, max_length=60, description="Name shown in the ranking")


class RankedCandidate(BaseModel):
    rank: int
    label: str
    id: str
    strategy: str
    params: dict[str, int | float]
    metrics: dict[str, float | int | None]


class Comparison(BaseModel):
    rank_by: str
    synthetic: bool
    data: str = Field(description="The data set every candidate ran on")
    ranking: list[RankedCandidate]
    commentary: str | None = Field(None, description="The analyst's comparison, when asked for")
    commentary_agent: str | None = None


@tool("List strategies", READ_ONLY)
async def list_strategies(ctx: Context) -> StrategyCatalog:
    """The built-in strategies with their parameters (type, default, allowed range):
    call it before choosing params for a backtest or an optimisation."""
    return StrategyCatalog(
        strategies=[StrategyInfo.model_validate(s) for s in E.list_strategies()],
        config_note="Execution options (fee, sl/tp/trail, size, leverage...) go in `config`; "
        "rates are fractions: fee 0.00055 = 0.055 %.",
    )


async def backtest_once(
    context: AppContext, data: DataSpec, run: StrategySpec, *, chart: bool, ctx: Context | None = None
) -> StoredBacktest:
    """One backtest as run_backtest and the REST route run it."""
    await progress(ctx, 0, 3, f"loading {data.label()}")
    dataset = await context.candles.load(data)
    await progress(ctx, 1, 3, f"backtesting {run.strategy} on {len(dataset.candles)} bars")
    stored = await context.results.run(
        dataset, run.strategy, run.params, config_or_default(run.config), chart=chart
    )
    await progress(ctx, 3, 3, "done")
    return stored


@tool("Run backtest", READ_ONLY, view=VIEW_URIS["report"])
async def run_backtest(
    ctx: Context,
    run: StrategySpec = StrategySpec(),  # every model argument is shown flat (tools._runtime)
    data: DataSpec = DataSpec(),
    include_chart: Annotated[
        bool, Field(description="Attach the equity chart PNG")
    ] = False,
) -> Annotated[CallToolResult, BacktestSummary]:
    """Backtest one strategy: headline metrics, warnings, and backtest:// URIs for the
    trades, equity curve, full report and chart (read them only if needed).

    Execution options (fees, SL/TP, sizing, leverage) go in `config`. Pass the id to
    analyze_backtest_results or risk_management_advice. Identical requests are cached.
    """
    context = app(ctx)
    stored = await backtest_once(context, data, run, chart=include_chart, ctx=ctx)
    body = summary_model(stored).model_dump(mode="json")
    # another process's HTTP server finds the id only through a shared (Redis) result cache
    shared = context.cache.kind == "redis"
    body["page"] = page_address(context.settings, page_path("backtest", stored.id), shared_results=shared)
    blocks: list[Any] = []
    if include_chart and stored.chart_png is not None:
        png = base64.b64encode(stored.chart_png).decode()
        blocks.append(ImageContent(type="image", data=png, mime_type="image/png"))
    return tool_result(body, *blocks)


# More candidates than this run as a job, split over the workers (fewer are quicker here,
# where the result cache can answer them); with wait=false every comparison is a job.
_IN_PROCESS_UP_TO = 4


@tool("Compare strategies", READ_ONLY)
async def compare_strategies(
    ctx: Context,
    candidates: Annotated[
        list[Candidate] | None,
        Field(min_length=2, max_length=12, description="Two to twelve strategy configurations"),
    ] = None,
    runs: Annotated[
        list[RunId] | None,
        Field(min_length=2, max_length=12, description="Instead: stored run ids, ranked unrun"),
    ] = None,
    rank_by: RankBy = "sharpe",
    data: DataSpec = DataSpec(),
    config: ConfigArg = None,
    commentary: Annotated[
        bool, Field(description="Also ask the analyst (router) to compare and explain")
    ] = False,
    wait: Wait = True,
) -> Annotated[CallToolResult, Comparison]:
    """Run several strategy configurations on the same data and rank them by `rank_by`
    (max_drawdown: smallest first), or rank stored `runs` (list_runs) by their metrics.
    Each row has a backtest id; commentary=true adds the analyst's ranking with reasons."""
    context = app(ctx)
    if (candidates is None) == (runs is None):
        raise RunArgumentError("give either candidates (to run) or runs (stored ids), not both")
    if runs is not None:
        return tool_result((await compare_stored(context, runs, rank_by, commentary, ctx)).model_dump(mode="json"))
    assert candidates is not None
    dataset = await context.candles.load(data)
    cands = [{"strategy": c.strategy, "params": c.params, "label": c.label,
              "config": (c.config or config_or_default(config)).model_dump(mode="json")}
             for c in candidates]  # fmt: skip
    answer = {"rank_by": rank_by, "commentary": commentary, "data": data.label(),
              "synthetic": dataset.candles.synthetic}  # fmt: skip
    if not wait or len(candidates) > _IN_PROCESS_UP_TO:
        request = {"candidates": cands, "answer": answer}
        return await run_as_job(
            ctx, context.jobs, lambda: context.jobs.submit_compare(dataset, cands, answer), wait,
            lambda payload: compare_answer(context, request, payload, ctx),
        )  # fmt: skip
    total = len(candidates) + (1 if commentary else 0)
    rows: list[tuple[str, StoredBacktest]] = []
    for i, cand in enumerate(candidates):
        await progress(ctx, i, total, f"candidate {i + 1}/{len(candidates)}: {cand.strategy}")
        cfg = cand.config or config_or_default(config)
        stored = await context.results.run(dataset, cand.strategy, cand.params, cfg, chart=False)
        rows.append((cand.label or _label(cand.strategy, stored.summary["params"]), stored))
    return tool_result((await _compared(context, rows, answer, ctx)).model_dump(mode="json"))


async def compare_stored(
    context: AppContext, run_ids: list[str], rank_by: str, commentary: bool, ctx: Context | None = None
) -> Comparison:
    """The ranking of stored runs by their recorded metrics (nothing is re-run)."""
    catalog = context.catalog.catalog
    details = [await anyio.to_thread.run_sync(catalog.get_run, rid) for rid in dict.fromkeys(run_ids)]
    rows = [(_label(d.strategy, d.params),
             StoredBacktest(d.id, {"data": d.data, "fingerprint": d.fingerprint}, d.summary))
            for d in details]  # fmt: skip
    answer = {"rank_by": rank_by, "commentary": commentary, "data": data_sets(details),
              "synthetic": any(d.synthetic for d in details)}  # fmt: skip
    return await _compared(context, rows, answer, ctx)


async def compare_answer(
    context: AppContext,
    request: dict[str, Any],
    payload: dict[str, Any],
    ctx: Context | None = None,
) -> Comparison:
    """The tool's answer from a comparison job: its backtests kept here under their ids."""
    rows = []
    for cand, b in zip(request["candidates"], payload["backtests"], strict=True):
        stored = await context.results.adopt(b["request"], b["summary"])
        rows.append(
            (cand.get("label") or _label(cand["strategy"], stored.summary["params"]), stored)
        )
    return await _compared(context, rows, request["answer"], ctx)


async def _compared(
    context: AppContext, rows: list[tuple[str, StoredBacktest]], answer: dict[str, Any],
    ctx: Context | None,
) -> Comparison:  # fmt: skip
    """The ranking of the candidates' backtests, with the analyst's commentary if asked."""
    n = len(rows) + (1 if answer["commentary"] else 0)
    out = Comparison(rank_by=answer["rank_by"], synthetic=answer["synthetic"], data=answer["data"],
                     ranking=_ranking(rows, answer["rank_by"]), commentary=None)  # fmt: skip
    if answer["commentary"]:
        await progress(ctx, len(rows), n, "asking the analyst")
        field = [{"name": r.label, "metrics": r.metrics, "params": r.params} for r in out.ranking]
        result = await routed(context, "compare_strategies", {"strategies": field})
        out.commentary, out.commentary_agent = result.text[:4000], result.agent
    await progress(ctx, n, n, "done")
    return out


def _ranking(rows: list[tuple[str, StoredBacktest]], rank_by: str) -> list[RankedCandidate]:
    """Best first; max_drawdown ranks the smallest first; a missing value ranks last."""
    best_high = rank_by != "max_drawdown"

    def value(stored: StoredBacktest) -> float:
        v = stored.summary["metrics"].get(rank_by)
        return (float("-inf") if best_high else float("inf")) if v is None else float(v)

    ordered = sorted(rows, key=lambda r: value(r[1]), reverse=best_high)
    return [
        RankedCandidate(
            rank=k + 1, label=label, id=s.id, strategy=s.summary["strategy"],
            params=dict(s.summary["params"]), metrics=headline(s.summary["metrics"]),
        )
        for k, (label, s) in enumerate(ordered)
    ]


def _label(strategy: str, params: dict[str, Any]) -> str:
    inner = ",".join(f"{k}={v}" for k, v in params.items())
    return f"{strategy}({inner})"
