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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mcp_server.candles import DataSpec
from mcp_server.cli._app import app
from mcp_server.cli._data import DATA, load
from mcp_server.cli._errors import cli_errors
from mcp_server.cli._options import Option, OptionGroup, with_groups
from ohlcv import DataLabel, describe_data

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

optimize_app = typer.Typer(
    help="Optimise a strategy's parameters: grid, random, Bayesian (optuna) or walk-forward.",
    no_args_is_help=True,
)
app.add_typer(optimize_app, name="optimize")

@dataclass(frozen=True)
class Search:
    """What to optimise, from the shared search options."""

    space: Any  # engine.SearchSpace
    objective: str
    min_trades: int
    config: dict[str, float]


@dataclass(frozen=True)
class Report:
    """How to show a search's result, from the shared report options."""

    top: int
    heatmap: Path | None
    heat_x: str | None
    heat_y: str | None
    as_json: bool
    no_overfit: bool
    blocks: int


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


def _search(v: dict[str, Any]) -> Search:
    space = _space(v["strategy"], v["param"], v["constraint"])
    return Search(space, v["objective"], v["min_trades"], {"fee": v["fee"]})


SEARCH = OptionGroup(Search, (
    Option("param", list[str] | None, None, "NAME=LOW:HIGH[:STEP] or NAME=V1,V2,... (repeatable); "
           "sl/tp/trail too. Default: every parameter from half to twice its default", ("--param", "-p")),
    Option("strategy", str, "ema_cross", "Built-in strategy (see `bybit-tester strategies`)"),
    Option("constraint", list[str] | None, None, "Extra constraint, e.g. 'slow >= 2*fast' (repeatable)",
           ("--constraint", "-c")),
    Option("objective", str, "sharpe", "sharpe, sortino, calmar, total_return, profit_factor, "
           "or a mix 'sharpe:0.7,calmar:0.3'"),
    Option("min_trades", int, 0, "Combinations with fewer trades are not ranked"),
    Option("fee", float, 0.00055, "Taker fee rate per fill"),
), _search)  # fmt: skip
REPORT = OptionGroup(Report, (
    Option("top", int, 10, "Rows of the ranking to print"),
    Option("heatmap", Path | None, None, "Write a heatmap PNG of the objective here"),
    Option("heat_x", str | None, None, "Heatmap x parameter (default: the first --param)"),
    Option("heat_y", str | None, None, "Heatmap y parameter (default: the second --param)"),
    Option("as_json", bool, False, "Print the full summary as one JSON object", ("--json",)),
    Option("no_overfit", bool, False, "Skip the overfitting statistics (saves ~one data pass)",
           ("--no-overfit",)),
    Option("blocks", int, 16, "CSCV blocks for PBO (even)"),
), lambda v: Report(**v))  # fmt: skip
search_options = with_groups(DATA, SEARCH, REPORT)


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


def _finish(res: Any, search: Search, report: Report, data: DataLabel) -> None:
    from engine import result_heatmap_png

    varied = list(search.space.domains)
    if report.heatmap is not None:
        x = report.heat_x or varied[0]
        y = report.heat_y or (varied[1] if len(varied) > 1 else None)
        if y is None:
            raise typer.BadParameter("a heatmap needs two parameters: vary two, or pass --heat-y")
        report.heatmap.write_bytes(result_heatmap_png(res, x, y, data=data))
    if report.as_json:
        out.print_json(json.dumps(_labelled(res.summary(report.top), data), default=_json_default))
    else:
        _print_result(res, varied, report.top)
        _print_data_note(data)
        if report.heatmap is not None:
            out.print(f"Heatmap: {report.heatmap.resolve()}")
    if res.cancelled:
        raise typer.Exit(130)


def _labelled(summary: dict[str, Any], data: DataLabel) -> dict[str, Any]:
    """A search's JSON summary with the data's label (the engine does not know where candles came from)."""
    return {**summary, "synthetic": data.synthetic, "provenance": data.text}


def _print_data_note(data: DataLabel) -> None:
    if data.note:
        out.print(f"[yellow]note:[/yellow] {data.note}")


def _json_default(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return float(x) if hasattr(x, "__float__") else str(x)


def _run_search(spec: DataSpec, search: Search, report: Report, run: Callable[..., Any], **extra: Any) -> None:
    """Load the data, run one engine search (`optimize_*`) with a progress bar and Ctrl-C,
    and report it."""
    with cli_errors(err):
        candles = load(spec).candles
        with _cancellable() as stop, _progress_bar() as progress:
            res = run(
                candles, search.space, objective=search.objective, config=search.config,
                min_trades=search.min_trades, progress=progress, should_stop=stop.is_set,
                overfit=not report.no_overfit, n_blocks=report.blocks, **extra,
            )  # fmt: skip
        _finish(res, search, report, describe_data(spec.source, candles.synthetic))


_ASYNC_HELP = "Queue it as a job for `bybit-tester worker`s (needs BST_BROKER_URL); prints the job id"


def _submit(spec: DataSpec, search: Search, report: Report, method: str, **extra: Any) -> None:
    """`--async`: the search as a chunked job on the workers."""
    from mcp_server.cli.jobs import search_spec_of, submit_async

    def submit(jobs: Any) -> Any:
        return jobs.submit_search(load(spec), search_spec_of(search), method=method,
                                  overfit=not report.no_overfit, **extra)  # fmt: skip

    submit_async(submit)


@optimize_app.command("grid")
@search_options
def grid_cmd(
    spec: DataSpec, search: Search, report: Report,
    max_combos: Annotated[int, typer.Option(help="Refuse larger grids unless --allow-large")] = 1_000_000,
    allow_large: Annotated[bool, typer.Option("--allow-large", help="Run grids above --max-combos")] = False,
    run_async: Annotated[bool, typer.Option("--async", help=_ASYNC_HELP)] = False,
) -> None:
    """Evaluate every combination of the --param ranges (constraints applied) and rank them."""
    from engine import GridTooLargeError, optimize_grid

    with cli_errors(err):
        try:
            search.space.expand(max_combos=max_combos, allow_large=allow_large)
        except GridTooLargeError as exc:  # say the flag, not the keyword argument
            raise typer.BadParameter(str(exc).replace("allow_large=True", "--allow-large")) from None
    if run_async:
        _submit(spec, search, report, "grid")
        return
    _run_search(spec, search, report, optimize_grid, max_combos=max_combos, allow_large=allow_large)


@optimize_app.command("random")
@search_options
def random_cmd(
    spec: DataSpec, search: Search, report: Report,
    samples: Annotated[int, typer.Option(help="Distinct random combinations to evaluate")] = 200,
    search_seed: Annotated[int, typer.Option(help="Seed of the sampler")] = 0,
    run_async: Annotated[bool, typer.Option("--async", help=_ASYNC_HELP)] = False,
) -> None:
    """Evaluate --samples random combinations (float ranges without a step are continuous)."""
    from engine import optimize_random

    if run_async:
        _submit(spec, search, report, "random", n_samples=samples, seed=search_seed)
        return
    _run_search(spec, search, report, optimize_random, n_samples=samples, seed=search_seed)


@optimize_app.command("bayes")
@search_options
def bayes_cmd(
    spec: DataSpec, search: Search, report: Report,
    trials: Annotated[int, typer.Option(help="Distinct trials to evaluate")] = 100,
    search_seed: Annotated[int, typer.Option(help="Seed of the TPE sampler")] = 0,
    batch: Annotated[int | None, typer.Option(help="Trials per parallel batch (default 4 per core)")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Drop trials that trail on the first half of the data")] = False,
) -> None:
    """Bayesian search with optuna's TPE sampler (seeded, reproducible), in parallel batches."""
    from engine import optimize_bayes

    _run_search(spec, search, report, optimize_bayes, n_trials=trials, seed=search_seed,
                batch_size=batch, prune=prune)  # fmt: skip


@optimize_app.command("walk-forward")
@with_groups(DATA, SEARCH)
def walk_forward_cmd(
    spec: DataSpec, search: Search,
    splits: Annotated[int, typer.Option(help="Number of train/test splits")] = 5,
    mode: Annotated[str, typer.Option(help="rolling (fixed train length) or anchored (train from the start)")] = "rolling",
    train_bars: Annotated[int | None, typer.Option(help="Train length in bars (default from --ratio)")] = None,
    test_bars: Annotated[int | None, typer.Option(help="Test length in bars (default from --ratio)")] = None,
    ratio: Annotated[float, typer.Option(help="Train length / test length when lengths are not given")] = 4.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full summary as one JSON object")] = False,
) -> None:
    """Optimise on each train window, test the choice on the next window, stitch the tests."""
    from engine import walk_forward

    with cli_errors(err):
        if mode not in ("rolling", "anchored"):
            raise typer.BadParameter(f"--mode must be rolling or anchored, got {mode!r}")
        candles = load(spec).candles
        with _cancellable() as stop, _progress_bar() as progress:
            res = walk_forward(candles, search.space, search.objective, search.config, n_splits=splits,
                               mode=mode, train_bars=train_bars,  # type: ignore[arg-type]
                               test_bars=test_bars, ratio=ratio, min_trades=search.min_trades,
                               progress=progress, should_stop=stop.is_set)
        data = describe_data(spec.source, candles.synthetic)
        if as_json:
            out.print_json(json.dumps(_labelled(res.summary(), data), default=_json_default))
        else:
            _print_walk_forward(res, list(search.space.domains))
            _print_data_note(data)
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
