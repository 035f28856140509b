"""Toolset `backtest`: list_strategies, run_backtest, compare_strategies."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel, ConfigDict, Field

import engine as E
from mcp_server.backtests import StoredBacktest, headline
from mcp_server.state import AppState
from mcp_server.tools._common import (
    READ_ONLY,
    Bars,
    CategoryArg,
    DateArg,
    Interval,
    ParamsArg,
    Seed,
    SourceArg,
    StrategyName,
    Symbol,
    data_spec,
    instrument,
    make_config,
    progress,
)

__all__ = ["register"]

RankBy = Literal["sharpe", "sortino", "calmar", "total_return", "profit_factor", "max_drawdown"]


class ParamInfo(BaseModel):
    name: str
    type: Literal["int", "float"]
    default: float
    low: float
    high: float
    description: str


class StrategyInfo(BaseModel):
    name: str
    description: str
    params: list[ParamInfo]
    constraints: list[str]


class StrategyCatalog(BaseModel):
    strategies: list[StrategyInfo]
    config_note: str = Field(
        description="How execution options (fees, SL/TP, leverage...) are passed"
    )


class BacktestResources(BaseModel):
    trades: str = Field(description="URI of the trade list (JSON)")
    equity: str = Field(description="URI of the equity and drawdown curve (JSON)")
    report: str = Field(description="URI of the full report: every metric, config, data summary")


class BacktestSummary(BaseModel):
    """Headline result of one backtest; details are in the resources."""

    id: str = Field(
        description="Backtest id; use it with the backtest:// resources and analysis tools"
    )
    strategy: str
    params: dict[str, int | float]
    symbol: str
    interval: str
    source: Literal["sample", "store"]
    synthetic: bool = Field(
        description="True when the data is synthetic (the sample, or candles from the offline fake "
        "Bybit), not market data"
    )
    bars: int
    start: str | None
    end: str | None
    metrics: dict[str, float | int | None] = Field(
        description="Headline metrics (fractions: 0.12 = 12 %); all metrics are in the report"
    )
    cached: bool = Field(description="Served from the result cache")
    resources: BacktestResources
    notes: list[str] = Field(default_factory=list)


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


def _catalog() -> StrategyCatalog:
    return StrategyCatalog(
        strategies=[StrategyInfo.model_validate(s) for s in E.list_strategies()],
        config_note="Pass execution options in run_backtest's `config` object: initial_capital, "
        "fee (0.00055 = Bybit taker), slippage, sl/tp/trail (fractions of price), direction "
        "(long|short|both), fill (next_open|close), size_mode/size, leverage, funding_rate, liquidation.",
    )


def _uris(bid: str) -> BacktestResources:
    return BacktestResources(
        trades=f"backtest://{bid}/trades",
        equity=f"backtest://{bid}/equity",
        report=f"backtest://{bid}/report",
    )


def _notes(stored: StoredBacktest) -> list[str]:
    s = stored.summary
    notes = []
    if s.get("synthetic"):
        notes.append("SYNTHETIC sample data: use source='store' for conclusions about the market.")
    n = s["metrics"].get("n_trades") or 0
    if n < 30:
        notes.append(f"Only {n} trades: Sharpe and win rate are not statistically meaningful.")
    if s.get("ended_open"):
        notes.append("A position was still open at the last bar (closed at the final close).")
    if s.get("time_gaps"):
        notes.append(f"{s['time_gaps']} time gap(s) in the data.")
    return notes


def summary_model(stored: StoredBacktest) -> BacktestSummary:
    s = stored.summary
    return BacktestSummary(
        id=stored.id,
        strategy=s["strategy"],
        params=dict(s["params"]),
        symbol=s["symbol"],
        interval=s["interval"],
        source=s.get("source", "sample"),
        synthetic=bool(s["synthetic"]),
        bars=int(s["bars"]),
        start=s.get("start"),
        end=s.get("end"),
        metrics=headline(s["metrics"]),
        cached=stored.cached,
        resources=_uris(stored.id),
        notes=_notes(stored),
    )


def register(server: MCPServer[Any], state: AppState) -> None:
    """Add the backtest tools to `server`."""

    @server.tool(title="List strategies", annotations=READ_ONLY)
    @instrument(state, "list_strategies")
    async def list_strategies() -> StrategyCatalog:
        """List the built-in strategies with their parameters (type, default, allowed range).

        Call this before run_backtest or compare_strategies to pick valid parameter values.
        The same catalogue is the resource strategies://catalog.
        """
        return _catalog()

    @server.tool(title="Run backtest", annotations=READ_ONLY)
    @instrument(state, "run_backtest")
    async def run_backtest(
        strategy: StrategyName = "ema_cross",  # type: ignore[valid-type]
        params: ParamsArg | None = None,
        symbol: Symbol = "BTCUSDT",
        interval: Interval = "15",
        bars: Bars = 5000,
        source: SourceArg = "sample",
        category: CategoryArg = "linear",
        start: DateArg = None,
        end: DateArg = None,
        seed: Seed = 42,
        config: E.BacktestConfig | None = None,
        include_chart: Annotated[
            bool, Field(description="Attach the equity/drawdown chart as a PNG image")
        ] = True,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, BacktestSummary]:
        """Backtest one strategy and return its headline metrics, resource URIs and a chart.

        Data: source='sample' (default) is a deterministic synthetic BTC-like series, no
        network, labelled synthetic; source='store' uses Bybit candles from the local store
        (last `bars` bars, or start..end; labelled synthetic if the offline fake served them). Execution options (fees, SL/TP, leverage, direction, fill
        timing) go in `config`. The result is compact: fetch the trade list, the equity
        curve or the full report from the returned backtest:// URIs only if needed. Pass the
        id to analyze_backtest_results or risk_management_advice. Identical requests are
        served from the cache.
        """
        spec = data_spec(source, symbol, interval, bars, category, start, end, seed)
        await progress(ctx, 0, 3, f"loading {spec.label()}")
        dataset = await state.data.load(spec)
        await progress(ctx, 1, 3, f"backtesting {strategy} on {len(dataset.candles)} bars")
        stored = await state.backtests.run(
            spec, strategy, params, make_config(config), chart=include_chart, dataset=dataset
        )
        await progress(ctx, 3, 3, "done")
        model = summary_model(stored)
        body = model.model_dump(mode="json")
        content: list[Any] = [
            TextContent(type="text", text=json.dumps(body, separators=(",", ":")))
        ]
        for kind, uri in body["resources"].items():
            content.append(
                ResourceLink(
                    type="resource_link",
                    uri=uri,
                    name=f"{stored.id}-{kind}",
                    mime_type="application/json",
                )
            )
        if include_chart and stored.chart_png is not None:
            content.append(
                ImageContent(
                    type="image",
                    data=base64.b64encode(stored.chart_png).decode(),
                    mime_type="image/png",
                )
            )
        return CallToolResult(content=content, structured_content=body)

    @server.tool(title="Compare strategies", annotations=READ_ONLY)
    @instrument(state, "compare_strategies")
    async def compare_strategies(
        candidates: Annotated[
            list[Candidate],
            Field(min_length=2, max_length=12, description="Two to twelve strategy configurations"),
        ],
        rank_by: RankBy = "sharpe",
        symbol: Symbol = "BTCUSDT",
        interval: Interval = "15",
        bars: Bars = 5000,
        source: SourceArg = "sample",
        category: CategoryArg = "linear",
        start: DateArg = None,
        end: DateArg = None,
        seed: Seed = 42,
        config: E.BacktestConfig | None = None,
        commentary: Annotated[
            bool, Field(description="Also ask the analyst (router) to compare and explain")
        ] = False,
        ctx: Context | None = None,
    ) -> Comparison:
        """Run several strategy configurations on the same data and rank them.

        Each candidate is a strategy with optional params, config and label. Ranking is by
        `rank_by` (max_drawdown ranks the smallest drawdown first). Each row carries a
        backtest id usable with the backtest:// resources. Set commentary=true to add the
        analyst's ranking with reasons (trade counts, drawdown, costs). Reports progress per
        candidate and stops when cancelled.
        """
        spec = data_spec(source, symbol, interval, bars, category, start, end, seed)
        dataset = await state.data.load(spec)
        shared = make_config(config)
        total = len(candidates) + (1 if commentary else 0)
        rows: list[tuple[str, StoredBacktest]] = []
        for i, cand in enumerate(candidates):
            await progress(ctx, i, total, f"candidate {i + 1}/{len(candidates)}: {cand.strategy}")
            stored = await state.backtests.run(
                spec,
                cand.strategy,
                cand.params,
                cand.config or shared,
                chart=False,
                dataset=dataset,
            )
            label = cand.label or _label(cand.strategy, stored.summary["params"])
            rows.append((label, stored))
        reverse = rank_by != "max_drawdown"
        rows.sort(key=lambda r: _rank_value(r[1], rank_by, reverse), reverse=reverse)
        ranking = [
            RankedCandidate(
                rank=k + 1,
                label=label,
                id=s.id,
                strategy=s.summary["strategy"],
                params=dict(s.summary["params"]),
                metrics=headline(s.summary["metrics"]),
            )
            for k, (label, s) in enumerate(rows)
        ]
        out = Comparison(
            rank_by=rank_by,
            synthetic=dataset.candles.synthetic,
            data=spec.label(),
            ranking=ranking,
            commentary=None,
        )
        if commentary:
            await progress(ctx, len(candidates), total, "asking the analyst")
            from mcp_server.tools.analysis import routed

            result = await routed(
                state,
                "compare_strategies",
                {
                    "strategies": [
                        {"name": r.label, "metrics": r.metrics, "params": r.params} for r in ranking
                    ]
                },
            )
            out.commentary = result.text[:4000]
            out.commentary_agent = result.agent
        await progress(ctx, total, total, "done")
        return out


def _label(strategy: str, params: dict[str, Any]) -> str:
    inner = ",".join(f"{k}={v}" for k, v in params.items())
    return f"{strategy}({inner})"


def _rank_value(stored: StoredBacktest, key: str, reverse: bool) -> float:
    v = stored.summary["metrics"].get(key)
    if v is None:
        return float("-inf") if reverse else float("inf")
    return float(v)
