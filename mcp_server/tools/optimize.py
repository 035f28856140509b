"""Toolset `optimize`: optimize_grid, optimize_random, optimize_bayesian, walk_forward.

Each tool runs the engine in a worker thread, relays its progress as MCP progress
notifications, and stops the run (after the current chunk, within about a second)
when the client cancels. Results are compact; the full ranked table is the
resource ``optimization://{id}/table`` and the heatmap is attached as an image.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel, Field

import engine as E
from mcp_server.state import AppState
from mcp_server.tools._common import (
    READ_ONLY,
    Bars,
    CategoryArg,
    DateArg,
    Interval,
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

_MAX_STORED = 32

ParamSpace = Annotated[
    dict[str, Annotated[str, Field(max_length=200)] | list[float]],
    Field(
        min_length=1,
        max_length=8,
        description='Parameters to vary: "low:high[:step]" or a list of values, e.g. '
        '{"fast": "5:50:5", "slow": [50, 100, 200], "sl": "0:0.02"}; see list_strategies',
    ),
]
ConstraintsArg = Annotated[
    list[Annotated[str, Field(max_length=120)]],
    Field(max_length=8, description="Extra constraints, e.g. ['slow >= 2*fast'] (the strategy's own always apply)"),
]
ObjectiveArg = Annotated[
    str,
    Field(
        max_length=120,
        description="sharpe, sortino, calmar, total_return, profit_factor, or a weighted mix "
        "'sharpe:0.7,calmar:0.3'",
    ),
]
MinTrades = Annotated[int, Field(ge=0, le=100_000, description="Combinations with fewer trades are not ranked")]


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
    top: list[dict[str, Any]]
    overfit: dict[str, Any] | None = Field(
        description="deflated_sharpe (prob. true Sharpe > 0 after N trials), pbo (prob. of "
        "backtest overfitting), sharpe_ci (bootstrap CI of the best Sharpe)"
    )
    table: str = Field(description="URI of the full ranked table (JSON)")
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


class _Store:
    """The last few optimisation tables, by id (bounded, newest kept)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def put(self, table: dict[str, Any]) -> str:
        with self._lock:
            oid = f"opt-{next(self._ids)}"
            self._items[oid] = table
            while len(self._items) > _MAX_STORED:
                self._items.popitem(last=False)
            return oid

    def get(self, oid: str) -> dict[str, Any]:
        with self._lock:
            if oid not in self._items:
                raise E.InvalidParameterError(
                    f"unknown optimization id {oid!r}; ids live for the last {_MAX_STORED} runs"
                )
            return self._items[oid]


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return float(x) if hasattr(x, "dtype") else x


async def _run(ctx: Context | None, job: Callable[[Callable[[int, int, str], None], Callable[[], bool]], Any]) -> Any:
    """Run ``job(progress, should_stop)`` in a thread; relay progress; stop on cancel."""
    stop = threading.Event()
    latest: list[tuple[int, int, str]] = []

    def on_progress(done: int, total: int, phase: str) -> None:
        latest.append((done, total, phase))

    result: list[Any] = []

    async def relay() -> None:
        sent = 0
        while True:
            await anyio.sleep(0.2)
            if len(latest) > sent:
                sent = len(latest)
                done, total, phase = latest[-1]
                await progress(ctx, done, max(total, 1), phase)

    errors: list[Exception] = []
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(relay)
            try:
                result.append(await anyio.to_thread.run_sync(lambda: job(on_progress, stop.is_set)))
            except Exception as exc:  # re-raised bare below, so the tool wrapper can map it
                errors.append(exc)
            tg.cancel_scope.cancel()
        if errors:
            raise errors[0]
    finally:
        stop.set()  # a cancelled request ends the engine run after its current chunk
    if latest:  # runs shorter than one relay tick still report where they ended
        done, total, phase = latest[-1]
        await progress(ctx, done, max(total, 1), phase)
    return result[0]


def register(server: MCPServer[Any], state: AppState) -> None:
    """Add the optimisation tools and the optimization:// resource to `server`."""
    store = _Store()

    @server.resource(
        "optimization://{oid}/table",
        name="optimization-table",
        mime_type="application/json",
        description="Every evaluated combination of an optimisation (or every walk-forward split), ranked",
    )
    async def table(oid: str) -> str:
        return json.dumps(_clean(store.get(oid)), separators=(",", ":"))

    async def load(source: str, symbol: str, interval: str, bars: int, category: str,
                   start: str | None, end: str | None, seed: int) -> Any:
        spec = data_spec(source, symbol, interval, bars, category, start, end, seed)
        return (await state.data.load(spec)).candles

    def search_result(res: Any, candles: E.Candles, heatmap: bool) -> CallToolResult:
        from engine.heatmap import result_heatmap_png

        oid = store.put({"kind": res.method, "strategy": res.strategy, "rows": res.table()})
        s = _clean(res.summary(10))
        model = OptimizationSummary(
            id=oid, method=s["method"], strategy=s["strategy"], objective=s["objective"],
            evaluated=s["evaluated"], planned=s["planned"], cancelled=s["cancelled"],
            elapsed_s=s["elapsed_s"], synthetic=candles.synthetic,
            best=_brief(s["best"]), top=s["top"], overfit=s["overfit"],
            table=f"optimization://{oid}/table", notes=s["notes"],
        )
        body = model.model_dump(mode="json")
        content: list[Any] = [
            TextContent(type="text", text=json.dumps(body, separators=(",", ":"))),
            ResourceLink(type="resource_link", uri=body["table"], name=f"{oid}-table",
                         mime_type="application/json"),
        ]
        varied = list(res.space["params"])
        if heatmap and len(varied) >= 2 and res.best is not None:
            png = result_heatmap_png(res, varied[0], varied[1])
            content.append(ImageContent(type="image", data=base64.b64encode(png).decode(),
                                        mime_type="image/png"))
        return CallToolResult(content=content, structured_content=body)

    @server.tool(title="Optimize (grid)", annotations=READ_ONLY)
    @instrument(state, "optimize_grid")
    async def optimize_grid(
        params: ParamSpace,
        strategy: StrategyName = "ema_cross",  # type: ignore[valid-type]
        constraints: ConstraintsArg | None = None,
        objective: ObjectiveArg = "sharpe",
        min_trades: MinTrades = 0,
        max_combos: Annotated[int, Field(ge=1, le=1_000_000, description="Refuse larger grids")] = 100_000,
        symbol: Symbol = "BTCUSDT",
        interval: Interval = "15",
        bars: Bars = 5000,
        source: SourceArg = "sample",
        category: CategoryArg = "linear",
        start: DateArg = None,
        end: DateArg = None,
        seed: Seed = 42,
        config: E.BacktestConfig | None = None,
        include_heatmap: Annotated[bool, Field(description="Attach a heatmap PNG of the first two params")] = True,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, OptimizationSummary]:
        """Evaluate every combination of the parameter ranges and rank them by the objective.

        Returns the best combination, the top 10, and overfitting statistics (deflated
        Sharpe, PBO, bootstrap CI of the best Sharpe: read them before trusting the best).
        The full table is at the returned optimization:// URI. Reports progress; stops on
        cancel. For large spaces prefer optimize_bayesian or optimize_random.
        """
        from engine.optimize import optimize_grid as run
        from engine.search_space import make_space

        space = make_space(strategy, params, constraints or [])
        space.expand(max_combos=max_combos)  # fail fast, before loading data
        candles = await load(source, symbol, interval, bars, category, start, end, seed)
        res = await _run(ctx, lambda p, s: run(candles, space, objective, make_config(config),
                                              min_trades=min_trades, max_combos=max_combos,
                                              progress=p, should_stop=s))
        return search_result(res, candles, include_heatmap)

    @server.tool(title="Optimize (random)", annotations=READ_ONLY)
    @instrument(state, "optimize_random")
    async def optimize_random(
        params: ParamSpace,
        strategy: StrategyName = "ema_cross",  # type: ignore[valid-type]
        n_samples: Annotated[int, Field(ge=1, le=5000, description="Distinct random combinations")] = 200,
        search_seed: Annotated[int, Field(ge=0, le=2**31 - 1, description="Sampler seed")] = 0,
        constraints: ConstraintsArg | None = None,
        objective: ObjectiveArg = "sharpe",
        min_trades: MinTrades = 0,
        symbol: Symbol = "BTCUSDT",
        interval: Interval = "15",
        bars: Bars = 5000,
        source: SourceArg = "sample",
        category: CategoryArg = "linear",
        start: DateArg = None,
        end: DateArg = None,
        seed: Seed = 42,
        config: E.BacktestConfig | None = None,
        include_heatmap: Annotated[bool, Field(description="Attach a heatmap PNG of the first two params")] = True,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, OptimizationSummary]:
        """Evaluate n_samples random combinations (seeded) and rank them by the objective.

        Float ranges without a step are sampled continuously. Same result shape as
        optimize_grid, with overfitting statistics for N = n_samples trials.
        """
        from engine.optimize import optimize_random as run
        from engine.search_space import make_space

        space = make_space(strategy, params, constraints or [])
        candles = await load(source, symbol, interval, bars, category, start, end, seed)
        res = await _run(ctx, lambda p, s: run(candles, space, n_samples, objective,
                                              make_config(config), seed=search_seed,
                                              min_trades=min_trades, progress=p, should_stop=s))
        return search_result(res, candles, include_heatmap)

    @server.tool(title="Optimize (Bayesian)", annotations=READ_ONLY)
    @instrument(state, "optimize_bayesian")
    async def optimize_bayesian(
        params: ParamSpace,
        strategy: StrategyName = "ema_cross",  # type: ignore[valid-type]
        n_trials: Annotated[int, Field(ge=1, le=1000, description="Distinct trials to evaluate")] = 100,
        search_seed: Annotated[int, Field(ge=0, le=2**31 - 1, description="TPE seed (reproducible)")] = 0,
        prune: Annotated[bool, Field(description="Drop trials trailing on the first half of the data")] = False,
        constraints: ConstraintsArg | None = None,
        objective: ObjectiveArg = "sharpe",
        min_trades: MinTrades = 0,
        symbol: Symbol = "BTCUSDT",
        interval: Interval = "15",
        bars: Bars = 5000,
        source: SourceArg = "sample",
        category: CategoryArg = "linear",
        start: DateArg = None,
        end: DateArg = None,
        seed: Seed = 42,
        config: E.BacktestConfig | None = None,
        include_heatmap: Annotated[bool, Field(description="Attach a heatmap PNG of the first two params")] = True,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, OptimizationSummary]:
        """Bayesian search (optuna TPE, seeded and reproducible) in parallel batches.

        Best for large or continuous spaces. Same result shape as optimize_grid.
        """
        from engine.bayes import optimize_bayes as run
        from engine.search_space import make_space

        space = make_space(strategy, params, constraints or [])
        candles = await load(source, symbol, interval, bars, category, start, end, seed)
        res = await _run(ctx, lambda p, s: run(candles, space, n_trials, objective,
                                              make_config(config), seed=search_seed, prune=prune,
                                              min_trades=min_trades, progress=p, should_stop=s))
        return search_result(res, candles, include_heatmap)

    @server.tool(title="Walk-forward", annotations=READ_ONLY)
    @instrument(state, "walk_forward")
    async def walk_forward(
        params: ParamSpace,
        strategy: StrategyName = "ema_cross",  # type: ignore[valid-type]
        n_splits: Annotated[int, Field(ge=1, le=100, description="Number of train/test splits")] = 5,
        mode: Annotated[Literal["rolling", "anchored"], Field(description="rolling: fixed train length; anchored: train from the start")] = "rolling",
        ratio: Annotated[float, Field(gt=0, le=100, description="Train length / test length")] = 4.0,
        train_bars: Annotated[int | None, Field(ge=2, description="Train length (overrides ratio)")] = None,
        test_bars: Annotated[int | None, Field(ge=2, description="Test length (overrides ratio)")] = None,
        constraints: ConstraintsArg | None = None,
        objective: ObjectiveArg = "sharpe",
        min_trades: MinTrades = 0,
        max_combos: Annotated[int, Field(ge=1, le=100_000, description="Refuse larger grids")] = 10_000,
        symbol: Symbol = "BTCUSDT",
        interval: Interval = "15",
        bars: Bars = 20_000,
        source: SourceArg = "sample",
        category: CategoryArg = "linear",
        start: DateArg = None,
        end: DateArg = None,
        seed: Seed = 42,
        config: E.BacktestConfig | None = None,
        ctx: Context | None = None,
    ) -> WalkForwardSummary:
        """Walk-forward test: optimise the grid on each train window, test the chosen
        parameters on the following window (never seen in training), stitch the tests.

        Returns stitched out-of-sample metrics, walk-forward efficiency (OOS / IS
        annualised performance), parameter stability and a per-split table.
        """
        from engine.search_space import make_space
        from engine.walkforward import walk_forward as run

        space = make_space(strategy, params, constraints or [])
        space.expand(max_combos=max_combos)
        candles = await load(source, symbol, interval, bars, category, start, end, seed)
        res = await _run(ctx, lambda p, s: run(candles, space, objective, make_config(config),
                                              n_splits=n_splits, mode=mode, ratio=ratio,
                                              train_bars=train_bars, test_bars=test_bars,
                                              min_trades=min_trades, max_combos=max_combos,
                                              progress=p, should_stop=s))
        s = _clean(res.summary())
        oid = store.put({"kind": "walk_forward", "strategy": res.strategy, "rows": s["splits"]})
        return WalkForwardSummary(
            id=oid, strategy=s["strategy"], mode=s["mode"], n_splits=s["n_splits"],
            cancelled=s["cancelled"], elapsed_s=s["elapsed_s"], synthetic=candles.synthetic,
            oos=s["oos"], efficiency=s["efficiency"], stability=s["stability"],
            oos_psr=s["oos_psr"], splits=s["splits"], table=f"optimization://{oid}/table",
            notes=s["notes"],
        )


def _brief(best: dict[str, Any] | None) -> dict[str, Any] | None:
    """The best row without the long tail of metrics (they are in the table)."""
    if best is None:
        return None
    keep = ("params", "score", "sharpe", "sortino", "calmar", "total_return", "max_drawdown",
            "profit_factor", "win_rate", "n_trades")
    return {k: best[k] for k in keep if k in best}
