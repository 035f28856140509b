"""`bybit-tester runs list|show|compare|tag`: the stored runs of the results catalog (every
backtest the server, the workers and this CLI recorded), read straight from the database."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from mcp_server.cli._app import app
from mcp_server.cli._catalog import cli_catalog

__all__ = ["runs_app"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

runs_app = typer.Typer(help="Stored runs: list, show, compare, tag.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

_JSON = Annotated[bool, typer.Option("--json", help="One JSON object")]
_BOUND = "METRIC:VALUE, repeatable (e.g. sharpe:1.2)"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


_HEADS = {"total_return": "return", "max_drawdown": "max dd", "win_rate": "win"}
_PERCENT = frozenset({"total_return", "max_drawdown", "win_rate", "cagr", "exposure",
                      "buy_and_hold_return", "expectancy_return", "volatility_ann"})  # fmt: skip


def _cell(name: str, value: Any) -> str:
    """A listing's metric: fractions as percentages, ratios to two decimals."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value * 100:.1f} %" if name in _PERCENT else f"{value:.2f}"
    return _fmt(value)


def _params(params: dict[str, Any]) -> str:
    return ",".join(f"{k}={_fmt(v)}" for k, v in params.items())


@runs_app.command("list")
def list_cmd(
    symbol: Annotated[str | None, typer.Option(help="Only this symbol")] = None,
    strategy: Annotated[str | None, typer.Option(help="Only this strategy")] = None,
    interval: Annotated[str | None, typer.Option(help="Only this interval")] = None,
    tag: Annotated[str | None, typer.Option(help="Only runs with this tag")] = None,
    since: Annotated[str | None, typer.Option(help="Recorded at or after (ISO date/time, UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="Recorded before (ISO; a date includes that day)")] = None,
    min_: Annotated[list[str] | None, typer.Option("--min", help=f"Lower bound {_BOUND}")] = None,
    max_: Annotated[list[str] | None, typer.Option("--max", help=f"Upper bound {_BOUND}")] = None,
    sort: Annotated[str, typer.Option(help="created, or any metric")] = "created",
    ascending: Annotated[bool, typer.Option("--ascending", help="Smallest first")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: _JSON = False,
) -> None:
    """Stored runs, newest (or best by --sort) first, one page."""
    from mcp_server.stored_runs import parse_bounds, run_query

    with cli_catalog(err) as catalog:
        q = run_query(
            symbol=symbol, strategy=strategy, interval=interval, tag=tag, since=since,
            until=until, min_metrics=parse_bounds(min_ or [], "--min"),
            max_metrics=parse_bounds(max_ or [], "--max"), sort=sort, ascending=ascending,
            limit=limit, offset=offset,
        )  # fmt: skip
        page = catalog.list_runs(q)
    if as_json:
        out.print_json(page.model_dump_json())
        return
    names = [n for n in (page.runs[0].metrics if page.runs else ()) if n != "n_trades"]  # = trades
    # numbers never wrap; the run's name and tags take what width is left
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for head in ("id", "created", "run", "data", "trades", *(_HEADS.get(n, n) for n in names), "tags"):
        wraps = head in ("run", "tags")
        table.add_column(head, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis",
                         justify="left" if wraps or head in ("id", "created", "data") else "right")  # fmt: skip
    for r in page.runs:
        table.add_row(r.id, r.created[:16].replace("T", " "), f"{r.strategy}({_params(r.params)})",
                      f"{r.symbol} {r.interval}", str(r.trades), *(_cell(n, r.metrics.get(n)) for n in names),
                      ",".join(r.tags))  # fmt: skip
    # piped output has no width to respect: a listing is read (or grepped) whole
    (out if out.is_terminal else Console(width=160)).print(table)
    more = f"; next page: --offset {page.next_offset}" if page.next_offset is not None else ""
    err.print(f"{len(page.runs)} of {page.total} run(s) from offset {page.offset}{more}")


@runs_app.command("show")
def show_cmd(run_id: str, as_json: _JSON = False) -> None:
    """One stored run: inputs, data set, every metric, tags and note."""
    from mcp_server.stored_runs import run_uris

    with cli_catalog(err) as catalog:
        detail = catalog.get_run(run_id)
    if as_json:
        out.print_json(json.dumps({"run": detail.model_dump(mode="json"), "resources": run_uris(run_id)}))
        return
    table = Table("field", "value", show_header=False)
    for name in ("id", "created", "strategy", "symbol", "interval", "category", "source", "bars",
                 "start", "end", "trades", "engine_version", "origin", "note"):  # fmt: skip
        table.add_row(name, _fmt(getattr(detail, name)))
    table.add_row("params", _params(detail.params))
    table.add_row("tags", ",".join(detail.tags))
    table.add_row("config", json.dumps(detail.config, separators=(",", ":")))
    for name, value in detail.metrics.items():
        table.add_row(name, _fmt(value))
    out.print(table)


@runs_app.command("compare")
def compare_cmd(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids")],
    as_json: _JSON = False,
) -> None:
    """Stored runs side by side: one row per metric, the best of each row marked *."""
    import engine as E
    from mcp_server.stored_runs import best_value, data_sets

    if len(set(run_ids)) < 2:
        raise typer.BadParameter("give two or more different run ids", param_hint="RUN_IDS")
    with cli_catalog(err) as catalog:
        runs = [catalog.get_run(rid) for rid in dict.fromkeys(run_ids)]
    names = [k for k in E.METRIC_KEYS if any(k in r.metrics for r in runs)]
    best = {n: best_value(n, [r.metrics.get(n) for r in runs]) for n in names}
    if as_json:
        body = {"runs": [r.model_dump(mode="json") for r in runs], "data": data_sets(runs),
                "best": {n: [r.id for r in runs if v is not None and r.metrics.get(n) == v]
                         for n, v in best.items()}}  # fmt: skip
        out.print_json(json.dumps(body))
        return
    table = Table("", *(f"{r.id}\n{r.strategy}({_params(r.params)})" for r in runs))
    table.add_row("data", *(f"{r.symbol} {r.interval} x{r.bars}" for r in runs))
    table.add_row("trades", *(str(r.trades) for r in runs))
    for n in names:
        cells = [_fmt(r.metrics.get(n)) for r in runs]
        if best[n] is not None:
            cells = [f"[bold green]{c} *[/]" if r.metrics.get(n) == best[n] else c
                     for c, r in zip(cells, runs, strict=True)]  # fmt: skip
        table.add_row(n, *cells)
    out.print(table)
    err.print(f"data: {data_sets(runs)}")


@runs_app.command("tag")
def tag_cmd(
    run_id: str,
    add: Annotated[list[str] | None, typer.Option("--add", help="Tag to add, repeatable")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Tag to remove, repeatable")] = None,
    note: Annotated[str | None, typer.Option(help="Replace the note")] = None,
    as_json: _JSON = False,
) -> None:
    """Add and remove tags of a stored run, and set its note."""
    from mcp_server.stored_runs import tag_run

    if not add and not remove and note is None:
        raise typer.BadParameter("nothing to do: give --add, --remove or --note")
    with cli_catalog(err) as catalog:
        detail = tag_run(catalog, run_id, add or [], remove or [], note)
    if as_json:
        out.print_json(json.dumps({"id": detail.id, "tags": detail.tags, "note": detail.note}))
        return
    err.print(f"run {detail.id}: tags {','.join(detail.tags) or '(none)'}"
              + (f"; note {detail.note!r}" if detail.note else ""))  # fmt: skip
