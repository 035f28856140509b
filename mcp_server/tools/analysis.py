"""Toolset `analysis`: the router's analyst tasks on backtest results, metrics, code and markets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

import engine as E
from mcp_server.candles import DataSpec
from mcp_server.context import AppContext
from mcp_server.results import headline
from mcp_server.scenarios import ScenarioRun
from mcp_server.tools._args import AgentArg, BacktestId, StrategySpec, config_or_default
from mcp_server.tools._jobwait import run_as_job
from mcp_server.tools._routed import AgentAnswer, answer_fields, ask, routed
from mcp_server.tools._runtime import READ_ONLY, READ_ONLY_OPEN, app, tool
from mcp_server.tools._ticket import Wait

__all__ = [
    "analyze_backtest_results",
    "code_review_strategy",
    "explain_metric",
    "generate_test_scenarios",
    "market_regime_detection",
    "risk_management_advice",
    "scenario_report",
    "technical_indicator_research",
]

_METRICS_HELP = "A metrics mapping (sharpe, max_drawdown, n_trades, ...) when there is no backtest id"
MetricsArg = Annotated[dict[str, float | None] | None, Field(max_length=60, description=_METRICS_HELP)]
Tolerance = Annotated[float, Field(gt=0, le=1, description="Largest acceptable drawdown (0.25 = 25 %)")]


class RegimeAnswer(AgentAnswer):
    features: dict[str, float] = Field(description="Features computed by the engine")
    data: str
    synthetic: bool


class ScenarioReport(AgentAnswer):
    runs: list[ScenarioRun] = Field(description="Every scenario run on the engine, with metrics")
    baseline: dict[str, float | int | None]
    data: str
    synthetic: bool


async def _metrics_for(
    context: AppContext, backtest_id: str | None, metrics: dict[str, float | None] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, extra task fields) from a backtest id or a metrics mapping."""
    if backtest_id:
        s = (await context.results.get(backtest_id, need_result=False)).summary
        extra = {"strategy": s["strategy"], "params": s["params"], "symbol": s["symbol"],
                 "timeframe": s["interval"]}  # fmt: skip
        found = dict(s["metrics"])
        if s.get("equity_exhausted_at"):  # the analyst says when the capital ran out
            found["equity_exhausted_bar_time"] = s["equity_exhausted_at"]
        return found, extra
    if metrics:
        return dict(metrics), {}
    raise ToolError("pass backtest_id (from run_backtest) or a metrics mapping")


@tool("Analyze backtest results", READ_ONLY_OPEN)
async def analyze_backtest_results(
    ctx: Context,
    backtest_id: BacktestId = None,
    metrics: MetricsArg = None,
    max_drawdown_tolerance: Tolerance = 0.25,
    min_trades: Annotated[int, Field(ge=1, le=10_000)] = 30,
    agent: AgentArg = "auto",
) -> AgentAnswer:
    """Judge a backtest: verdict, red flags (too few trades, costs eating the edge,
    drawdown beyond tolerance, implausible Sharpe...), strengths and suggestions.

    Pass the id from run_backtest (preferred) or a metrics mapping.
    """
    m, extra = await _metrics_for(app(ctx), backtest_id, metrics)
    data = {"metrics": m, "max_drawdown_tolerance": max_drawdown_tolerance,
            "min_trades": min_trades, **extra}  # fmt: skip
    return await ask(app(ctx), "analyze_backtest", data, agent)


@tool("Risk management advice", READ_ONLY_OPEN)
async def risk_management_advice(
    ctx: Context,
    backtest_id: BacktestId = None,
    metrics: MetricsArg = None,
    account_equity: Annotated[float | None, Field(gt=0, le=1e12)] = None,
    risk_per_trade: Annotated[
        float, Field(gt=0, le=0.2, description="Fraction of equity risked per trade")
    ] = 0.01,
    leverage: Annotated[float, Field(ge=1, le=125)] = 1.0,
    max_drawdown_tolerance: Tolerance = 0.25,
    agent: AgentArg = "auto",
) -> AgentAnswer:
    """Position sizing, maximum leverage and stop-loss hints for a backtested strategy,
    within the account's risk per trade and drawdown tolerance."""
    m, _ = await _metrics_for(app(ctx), backtest_id, metrics)
    data = {"metrics": m, "account_equity": account_equity, "risk_per_trade": risk_per_trade,
            "leverage": leverage, "max_drawdown_tolerance": max_drawdown_tolerance}  # fmt: skip
    return await ask(app(ctx), "risk_advice", data, agent)


@tool("Technical indicator research", READ_ONLY_OPEN)
async def technical_indicator_research(
    ctx: Context,
    indicator: Annotated[str, Field(min_length=1, max_length=80, description="e.g. RSI, MACD, Bollinger")],
    question: Annotated[str | None, Field(max_length=2000)] = None,
    agent: AgentArg = "auto",
) -> AgentAnswer:
    """Formula, usual parameters and pitfalls of a technical indicator (with web sources
    when Perplexity is configured)."""
    return await ask(app(ctx), "indicator_research", {"indicator": indicator, "question": question}, agent)


@tool("Explain a metric", READ_ONLY)
async def explain_metric(
    ctx: Context,
    metric: Literal[tuple(E.METRIC_KEYS)],  # type: ignore[valid-type]
    value: Annotated[float | None, Field(description="The value in a result, to assess it")] = None,
    agent: AgentArg = "local",
) -> AgentAnswer:
    """Explain an engine metric (formula, meaning, good and bad values) and assess a value.
    Fractions are plain numbers: max_drawdown 0.2 = 20 %."""
    return await ask(app(ctx), "explain_metric", {"metric": metric, "value": value}, agent)


@tool("Market regime detection", READ_ONLY_OPEN)
async def market_regime_detection(
    ctx: Context,
    data: DataSpec = DataSpec(),  # shown to the client as flat fields (tools._runtime)
    agent: AgentArg = "auto",
) -> RegimeAnswer:
    """Classify the market at the last bar as trend, range or high volatility.

    The engine computes the features (SMA slope, efficiency ratio, annualised volatility
    and its percentile, ADX) on the data; the analyst judges them.
    """
    ds = await app(ctx).candles.load(data)
    features = E.regime_features(ds.candles)
    task = {"features": features, "symbol": data.symbol, "periods_per_year": ds.candles.periods_per_year}
    result = await routed(app(ctx), "market_regime", task, agent)
    return RegimeAnswer(
        **answer_fields(result), features=features, data=data.label(), synthetic=ds.candles.synthetic
    )


@tool("Code review of a strategy", READ_ONLY_OPEN)
async def code_review_strategy(
    ctx: Context,
    code: Annotated[str, Field(min_length=1, max_length=50_000, description="Strategy source code")],
    language: Literal["python", "pine", "other"] = "python",
    agent: AgentArg = "auto",
) -> AgentAnswer:
    """Review strategy code for look-ahead bias (shift(-n), centred windows, future
    indexing, back-filling), unseeded randomness and missing costs; each finding has a
    rule, severity, line and fix."""
    return await ask(app(ctx), "code_review", {"code": code, "language": language}, agent)


@tool("Generate and run test scenarios", READ_ONLY_OPEN)
async def generate_test_scenarios(
    ctx: Context,
    run: StrategySpec = StrategySpec(),  # every model argument is shown flat (tools._runtime)
    data: DataSpec = DataSpec(),
    agent: AgentArg = "auto",
    wait: Wait = True,
) -> Annotated[CallToolResult, ScenarioReport]:
    """Propose stress scenarios (costs, fill timing, crash gap, volatility, parameter
    neighbourhood, walk-forward...) and run them beside the baseline. Scenarios that
    cannot change this run are listed as not applicable, others needing other data as
    not run."""
    context = app(ctx)
    ds = await context.candles.load(data)
    strategy, cfg = run.strategy, config_or_default(run.config)
    base = await context.results.run(ds, strategy, run.params, cfg, chart=False)
    resolved = base.summary["params"]
    task = {"strategy": strategy, "params": {**resolved, **cfg.model_dump(exclude_none=True)},
            "metrics": base.summary["metrics"]}  # fmt: skip
    result = await routed(context, "test_scenarios", task, agent)
    baseline = headline(base.summary["metrics"])
    answer = {**answer_fields(result), "output": None,  # the runs carry the scenarios
              "baseline": baseline, "data": data.label(), "synthetic": ds.candles.synthetic}  # fmt: skip
    job = {"strategy": strategy, "params": resolved, "config": cfg.model_dump(mode="json"),
           "scenarios": (result.output or {}).get("scenarios", []), "baseline": baseline,
           "answer": answer}  # fmt: skip
    return await run_as_job(
        ctx, context.jobs, lambda: context.jobs.submit_scenarios(ds, **job), wait,
        lambda payload: scenario_report(context, job, payload),
    )  # fmt: skip


async def scenario_report(
    context: AppContext, request: dict[str, Any], payload: dict[str, Any]
) -> ScenarioReport:
    """The tool's answer from a scenarios job: its backtests kept here under their ids."""
    for b in payload["backtests"]:
        await context.results.adopt(b["request"], b["summary"])
    runs = [ScenarioRun.model_validate(r) for r in payload["runs"]]
    return ScenarioReport(**request["answer"], runs=runs)
