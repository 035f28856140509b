"""`bybit-tester optimize grid|random|bayes|walk-forward`: parameter search from the shell.

Progress goes to stderr as a rich bar; Ctrl-C once cancels cleanly (the run
stops after its current chunk, within about a second, and prints what it
finished); a second Ctrl-C aborts.
"""

from __future__ import annotations

import json
import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mcp_server.candles import DataSpec
from mcp_server.cli._app import app
from mcp_server.cli._data import data_options, load
from mcp_server.cli._errors import cli_errors

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

optimize_app = typer.Typer(
    help="Optimise a strategy's parameters: grid, random, Bayesian (optuna) or walk-forward.",
    no_args_is_help=True,
)
app.add_typer(optimize_app, name="optimize")

Strategy = Annotated[str, typer.Option(help="Built-in strategy (see `bybit-tester strategies`)")]
Params = Annotated[list[str] | None, typer.Option("--param", "-p", help="NAME=LOW:HIGH[:STEP] or NAME=V1,V2,... (repeatable); sl/tp/trail too. Default: every parameter from half to twice its default")]
Constraints = Annotated[list[str] | None, typer.Option("--constraint", "-c", help="Extra constraint, e.g. 'slow >= 2*fast' (repeatable)")]
ObjectiveOpt = Annotated[str, typer.Option(help="sharpe, sortino, calmar, total_return, profit_factor, or a mix 'sharpe:0.7,calmar:0.3'")]
MinTrades = Annotated[int, typer.Option(help="Combinations with fewer trades are not ranked")]
FeeOpt = Annotated[float, typer.Option(help="Taker fee rate per fill")]
Top = Annotated[int, typer.Option(help="Rows of the ranking to print")]
Heatmap = Annotated[Path | None, typer.Option(help="Write a heatmap PNG of the objective here")]
HeatX = Annotated[str | None, typer.Option(help="Heatmap x parameter (default: the first --param)")]
HeatY = Annotated[str | None, typer.Option(help="Heatmap y parameter (default: the second --param)")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the full summary as one JSON object")]
NoOverfit = Annotated[bool, typer.Option("--no-overfit", help="Skip the overfitting statistics (saves ~one data pass)")]
Blocks = Annotated[int, typer.Option(help="CSCV blocks for PBO (even)")]


def _space(strategy: str, params: list[str] | None, constraints: list[str] | None) -> Any:
    from engine import default_params, make_space

    if not params:
        return make_space(strategy, default_params(strategy), constraints or [])
    parsed: dict[str, str] = {}
    for item in params:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise typer.BadParameter(f"--param takes NAME=LOW:HIGH[:STEP] or NAME=V1,V2, got {item!r}")
        parsed[name.strip()] = spec.strip()
    return make_space(strategy, parsed, constraints or [])


@contextmanager
def _cancellable() -> Iterator[threading.Event]:
    """First Ctrl-C sets the stop flag; the previous handler comes back afterwards."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err.print("[yellow]cancelling: finishing the current chunk (Ctrl-C again to abort)[/yellow]")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int, str], None]]:
    bar = Progress(TextColumn("{task.description:<12}"), BarColumn(), TaskProgressColumn(),
                   TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal)
    task = bar.add_task("starting", total=None)

    def update(done: int, total: int, phase: str) -> None:
        bar.update(task, completed=done, total=total, description=phase)

    with bar:
        yield update


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if pct:
        return f"{x * 100:,.2f} %"
    return f"{x:,.3f}" if isinstance(x, float) else str(x)


def _print_result(res: Any, varied: list[str], top: int) -> None:
    s = res.summary(top)
    head = f"[bold]{res.method} search[/bold] {res.strategy}, objective {res.objective.label}"
    out.print(f"{head}: {s['evaluated']:,} of {s['planned']:,} combinations, "
              f"{s['rankable']:,} ranked, {res.n_bars:,} bars, {res.elapsed_s:.2f} s")
    table = Table(show_lines=False)
    for col in ("#", *varied, "score", "sharpe", "return", "max DD", "trades"):
        table.add_column(col, justify="right")
    for row in s["top"]:
        p = row["params"]
        table.add_row(str(row["rank"]), *[_fmt(p[k]) for k in varied], _fmt(row["score"]),
                      _fmt(row["sharpe"]), _fmt(row["total_return"], True),
                      _fmt(row["max_drawdown"], True), str(row["n_trades"]))
    out.print(table)
    ov = s["overfit"]
    if ov:
        pbo = ov["pbo"]
        ci = ov["sharpe_ci"]
        out.print(
            f"Overfitting: deflated Sharpe {_fmt(ov['deflated_sharpe'])} "
            f"(best Sharpe {_fmt(ov['best_sharpe'])} vs {_fmt(ov['expected_max_sharpe'])} expected "
            f"from {ov['n_trials']} unskilled trials); "
            f"PBO {_fmt(pbo['pbo']) if pbo else 'n/a'}; "
            + (f"Sharpe {ci['level'] * 100:.0f} % CI [{_fmt(ci['low'])}, {_fmt(ci['high'])}]" if ci else "")
        )
    for note in s["notes"] + (ov["notes"] if ov else []):
        out.print(f"[yellow]note:[/yellow] {note}")


def _finish(res: Any, space: Any, top: int, as_json: bool, heatmap: Path | None,
            heat_x: str | None, heat_y: str | None) -> None:
    from engine import result_heatmap_png

    varied = list(space.domains)
    if heatmap is not None:
        x = heat_x or varied[0]
        y = heat_y or (varied[1] if len(varied) > 1 else None)
        if y is None:
            raise typer.BadParameter("a heatmap needs two parameters: vary two, or pass --heat-y")
        heatmap.write_bytes(result_heatmap_png(res, x, y))
    if as_json:
        out.print_json(json.dumps(res.summary(top), default=_json_default))
    else:
        _print_result(res, varied, top)
        if heatmap is not None:
            out.print(f"Heatmap: {heatmap.resolve()}")
    if res.cancelled:
        raise typer.Exit(130)


def _json_default(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return float(x) if hasattr(x, "__float__") else str(x)


@optimize_app.command("grid")
@data_options
def grid_cmd(
    spec: DataSpec,
    param: Params = None, strategy: Strategy = "ema_cross", constraint: Constraints = None,
    objective: ObjectiveOpt = "sharpe", min_trades: MinTrades = 0, fee: FeeOpt = 0.00055, top: Top = 10, heatmap: Heatmap = None,
    heat_x: HeatX = None, heat_y: HeatY = None, as_json: AsJson = False,
    no_overfit: NoOverfit = False, blocks: Blocks = 16,
    max_combos: Annotated[int, typer.Option(help="Refuse larger grids unless --allow-large")] = 1_000_000,
    allow_large: Annotated[bool, typer.Option("--allow-large", help="Run grids above --max-combos")] = False,
) -> None:
    """Evaluate every combination of the --param ranges (constraints applied) and rank them."""
    from engine import GridTooLargeError, optimize_grid

    with cli_errors(err):
        space = _space(strategy, param, constraint)
        try:
            space.expand(max_combos=max_combos, allow_large=allow_large)
        except GridTooLargeError as exc:  # say the flag, not the keyword argument
            raise typer.BadParameter(str(exc).replace("allow_large=True", "--allow-large")) from None
        candles = load(spec).candles
        with _cancellable() as stop, _progress_bar() as progress:
            res = optimize_grid(candles, space, objective, {"fee": fee}, min_trades=min_trades,
                                max_combos=max_combos, allow_large=allow_large, progress=progress,
                                should_stop=stop.is_set, overfit=not no_overfit, n_blocks=blocks)
        _finish(res, space, top, as_json, heatmap, heat_x, heat_y)


@optimize_app.command("random")
@data_options
def random_cmd(
    spec: DataSpec,
    param: Params = None, strategy: Strategy = "ema_cross", constraint: Constraints = None,
    samples: Annotated[int, typer.Option(help="Distinct random combinations to evaluate")] = 200,
    search_seed: Annotated[int, typer.Option(help="Seed of the sampler")] = 0,
    objective: ObjectiveOpt = "sharpe", min_trades: MinTrades = 0, fee: FeeOpt = 0.00055, top: Top = 10, heatmap: Heatmap = None,
    heat_x: HeatX = None, heat_y: HeatY = None, as_json: AsJson = False,
    no_overfit: NoOverfit = False, blocks: Blocks = 16,
) -> None:
    """Evaluate --samples random combinations (float ranges without a step are continuous)."""
    from engine import optimize_random

    with cli_errors(err):
        space = _space(strategy, param, constraint)
        candles = load(spec).candles
        with _cancellable() as stop, _progress_bar() as progress:
            res = optimize_random(candles, space, samples, objective, {"fee": fee}, seed=search_seed,
                                  min_trades=min_trades, progress=progress, should_stop=stop.is_set,
                                  overfit=not no_overfit, n_blocks=blocks)
        _finish(res, space, top, as_json, heatmap, heat_x, heat_y)


@optimize_app.command("bayes")
@data_options
def bayes_cmd(
    spec: DataSpec,
    param: Params = None, strategy: Strategy = "ema_cross", constraint: Constraints = None,
    trials: Annotated[int, typer.Option(help="Distinct trials to evaluate")] = 100,
    search_seed: Annotated[int, typer.Option(help="Seed of the TPE sampler")] = 0,
    batch: Annotated[int | None, typer.Option(help="Trials per parallel batch (default 4 per core)")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Drop trials that trail on the first half of the data")] = False,
    objective: ObjectiveOpt = "sharpe", min_trades: MinTrades = 0, fee: FeeOpt = 0.00055, top: Top = 10, heatmap: Heatmap = None,
    heat_x: HeatX = None, heat_y: HeatY = None, as_json: AsJson = False,
    no_overfit: NoOverfit = False, blocks: Blocks = 16,
) -> None:
    """Bayesian search with optuna's TPE sampler (seeded, reproducible), in parallel batches."""
    from engine import optimize_bayes

    with cli_errors(err):
        space = _space(strategy, param, constraint)
        candles = load(spec).candles
        with _cancellable() as stop, _progress_bar() as progress:
            res = optimize_bayes(candles, space, trials, objective, {"fee": fee}, seed=search_seed,
                                 batch_size=batch, prune=prune, min_trades=min_trades,
                                 progress=progress, should_stop=stop.is_set,
                                 overfit=not no_overfit, n_blocks=blocks)
        _finish(res, space, top, as_json, heatmap, heat_x, heat_y)


@optimize_app.command("walk-forward")
@data_options
def walk_forward_cmd(
    spec: DataSpec,
    param: Params = None, strategy: Strategy = "ema_cross", constraint: Constraints = None,
    splits: Annotated[int, typer.Option(help="Number of train/test splits")] = 5,
    mode: Annotated[str, typer.Option(help="rolling (fixed train length) or anchored (train from the start)")] = "rolling",
    train_bars: Annotated[int | None, typer.Option(help="Train length in bars (default from --ratio)")] = None,
    test_bars: Annotated[int | None, typer.Option(help="Test length in bars (default from --ratio)")] = None,
    ratio: Annotated[float, typer.Option(help="Train length / test length when lengths are not given")] = 4.0,
    objective: ObjectiveOpt = "sharpe", min_trades: MinTrades = 0, fee: FeeOpt = 0.00055, as_json: AsJson = False,
) -> None:
    """Optimise on each train window, test the choice on the next window, stitch the tests."""
    from engine import walk_forward

    with cli_errors(err):
        if mode not in ("rolling", "anchored"):
            raise typer.BadParameter(f"--mode must be rolling or anchored, got {mode!r}")
        space = _space(strategy, param, constraint)
        candles = load(spec).candles
        with _cancellable() as stop, _progress_bar() as progress:
            res = walk_forward(candles, space, objective, {"fee": fee}, n_splits=splits,
                               mode=mode, train_bars=train_bars,  # type: ignore[arg-type]
                               test_bars=test_bars, ratio=ratio, min_trades=min_trades,
                               progress=progress, should_stop=stop.is_set)
        if as_json:
            out.print_json(json.dumps(res.summary(), default=_json_default))
        else:
            _print_walk_forward(res, list(space.domains))
        if res.cancelled:
            raise typer.Exit(130)


def _print_walk_forward(res: Any, varied: list[str]) -> None:
    out.print(f"[bold]walk-forward[/bold] {res.strategy} ({res.mode}), objective "
              f"{res.objective.label}: {len(res.splits)} splits, {res.elapsed_s:.2f} s")
    table = Table()
    for col in ("split", "test from", "test to", *varied, "IS score", "IS sharpe", "OOS sharpe",
                "OOS return", "OOS trades"):
        table.add_column(col, justify="right")
    for row in res.table():
        p = row["params"] or {}
        table.add_row(str(row["split"]), row["test"][0][:16], row["test"][1][:16],
                      *[_fmt(p.get(k)) for k in varied], _fmt(row["is_score"]),
                      _fmt(row["is"]["sharpe"]), _fmt(row["oos"]["sharpe"]),
                      _fmt(row["oos"]["total_return"], True), _fmt(row["oos"]["n_trades"]))
    out.print(table)
    o, e = res.oos_metrics, res.efficiency
    out.print(f"Stitched OOS: return {_fmt(o['total_return'], True)}, CAGR {_fmt(o['cagr'], True)}, "
              f"Sharpe {_fmt(o['sharpe'])}, max DD {_fmt(o['max_drawdown'], True)}, "
              f"{o['n_trades']} trades; PSR {_fmt(res.oos_psr)}")
    out.print(f"Walk-forward efficiency: CAGR {_fmt(e['wfe_cagr'])}, Sharpe {_fmt(e['wfe_sharpe'])}")
    for name, st in res.stability.items():
        out.print(f"Stability of {name}: values {', '.join(f'{v:g}' for v in st['values'])}, "
                  f"std {_fmt(st['std_of_range'] * 100)} % of range, mode share {_fmt(st['mode_share'])}")
    for note in res.notes:
        out.print(f"[yellow]note:[/yellow] {note}")
