"""`bybit-tester demo`, `backtest` and `strategies`: the engine from the shell.

The `backtest` flags and its `--json` output are a fixed contract other tools
script against; add flags, never rename them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mcp_server.candles import DataSpec
from mcp_server.cli._app import app
from mcp_server.cli._data import data_options, load
from mcp_server.cli._errors import cli_errors
from mcp_server.cli._record import record_backtest
from ohlcv import Interval, describe_data

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

Opt = typer.Option
# The backtest flags that make up the engine config (see `_config`).
_EXECUTION_FLAGS = (
    "direction", "fill", "sl", "tp", "trail", "trail_activation", "same_bar",
    "no_entry_bar_check", "fee", "maker_fee", "slippage", "capital", "size_fraction",
    "size_qty", "size_notional", "leverage", "qty_step", "min_qty", "funding_rate", "liquidation",
)  # fmt: skip


def _parse_params(items: list[str]) -> dict[str, float]:
    params: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--param takes NAME=VALUE, got {item!r}")
        try:
            params[name.strip()] = float(value)
        except ValueError:
            raise typer.BadParameter(f"--param {name.strip()} needs a number, got {value!r}") from None
    return params


def _warm_status(message: str) -> Any:
    """A spinner for work that compiles the numba kernels on the first run."""
    return err.status(message, spinner="dots") if err.is_terminal else _Null()


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _metrics_table(result: Any) -> Table:
    m = result.metrics
    table = Table(title=None, show_header=False, box=None, pad_edge=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x * 100:,.2f} %"

    def num(x: float | None) -> str:
        return "n/a" if x is None else f"{x:,.2f}"

    rows = [
        ("Initial capital", f"${float(result.config['initial_capital']):,.2f}"),
        ("Final capital", f"${m['final_equity']:,.2f}"),
        ("Total return", pct(m["total_return"])),
        ("Buy & hold return", pct(m["buy_and_hold_return"])),
        ("Trades", str(m["n_trades"])),
        ("Win rate", pct(m["win_rate"])),
        ("Profit factor", num(m["profit_factor"])),
        ("Sharpe", num(m["sharpe"])),
        ("Sortino", num(m["sortino"])),
        ("Max drawdown", pct(m["max_drawdown"])),
        ("Fees paid", f"${m['fees_paid']:,.2f}"),
        ("Exposure", pct(m["exposure"])),
    ]
    for k, v in rows:
        table.add_row(k, v)
    return table


@app.command()
def demo(
    out_png: Annotated[Path, Opt("--out", help="Where to write the equity + drawdown chart")] = Path("demo_equity.png"),
    fast: Annotated[int, Opt(help="Fast EMA span")] = 20,
    slow: Annotated[int, Opt(help="Slow EMA span")] = 50,
    bars: Annotated[int, Opt(help="Number of 15-minute bars (default: one year)")] = DataSpec().bars,
) -> None:
    """Run the offline demo: EMA 20/50 cross on a year of synthetic BTCUSDT 15m candles
    with Bybit taker fees, print the headline metrics and write a chart."""
    import engine

    with cli_errors(err):
        spec = DataSpec(bars=bars)
        params = {"fast": fast, "slow": slow}
        with _warm_status("Preparing the engine (compiles once on the first run)..."), \
                engine.CompileAhead("ema_cross", params) as ahead:
            data = load(spec)
            candles = data.candles
            ahead.wait()
            result = engine.backtest(candles, "ema_cross", params)
        record_backtest(data, result, engine.make_config())
        summary = result.summary()
        out.print(
            f"[bold]EMA {fast}/{slow} cross on {spec.symbol} {Interval.parse(spec.interval).display}[/bold], "
            f"{len(candles):,} bars {summary['start']} .. {summary['end']}, fee 0.055 %, long/short"
        )
        tag = describe_data(spec.source, candles.synthetic).tag
        out.print(f"[yellow]Data: {tag} (offline, deterministic), not Bybit history.[/yellow]")
        out.print(_metrics_table(result))
        out.print(_why(result), highlight=False)
        out_png.write_bytes(engine.render_equity_png(result, candles=candles, source=spec.source))
        out.print(f"Chart (strategy beside buy-and-hold): {out_png.resolve()}")
        _page(spec, "ema_cross", params, None, open_it=False)


def _config(opts: dict[str, Any]) -> Any:
    """The engine config from the execution flags (at most one sizing flag)."""
    import engine

    sizes = {k: v for k, v in (("equity_fraction", opts.pop("size_fraction")),
                               ("fixed_qty", opts.pop("size_qty")),
                               ("fixed_notional", opts.pop("size_notional"))) if v is not None}  # fmt: skip
    if len(sizes) > 1:
        raise typer.BadParameter("give at most one of --size-fraction, --size-qty, --size-notional")
    size_mode, size = next(iter(sizes.items())) if sizes else ("equity_fraction", 1.0)
    opts["check_entry_bar"] = not opts.pop("no_entry_bar_check")
    opts["initial_capital"] = opts.pop("capital")
    # Built here rather than by engine.make_config, so a bad value reaches the error table as
    # a ValidationError and prints one line per field saying what to send instead.
    return engine.BacktestConfig.model_validate({"size_mode": size_mode, "size": size, **opts})


@app.command()
@data_options
def backtest(
    spec: DataSpec,
    strategy: Annotated[str, Opt(help="Built-in strategy name (see `bybit-tester strategies`)")] = "ema_cross",
    param: Annotated[list[str] | None, Opt(help="Strategy parameter NAME=VALUE (repeatable)")] = None,
    direction: Annotated[str, Opt(help="long, short or both")] = "both",
    fill: Annotated[str, Opt(help="next_open or close")] = "next_open",
    sl: Annotated[float, Opt(help="Stop-loss fraction of the fill price (0 = off)")] = 0.0,
    tp: Annotated[float, Opt(help="Take-profit fraction (0 = off)")] = 0.0,
    trail: Annotated[float, Opt(help="Trailing-stop fraction (0 = off)")] = 0.0,
    trail_activation: Annotated[float, Opt(help="Profit fraction before trailing starts")] = 0.0,
    same_bar: Annotated[str, Opt(help="stop_first, tp_first or ohlc_path")] = "stop_first",
    no_entry_bar_check: Annotated[bool, Opt("--no-entry-bar-check", help="Do not test SL/TP on the entry bar")] = False,
    fee: Annotated[float, Opt(help="Taker fee rate per fill")] = 0.00055,
    maker_fee: Annotated[float | None, Opt(help="Fee rate for take-profit fills (default: --fee)")] = None,
    slippage: Annotated[float, Opt(help="Adverse slippage fraction on market and stop fills")] = 0.0,
    capital: Annotated[float, Opt(help="Initial capital")] = 10_000.0,
    size_fraction: Annotated[float | None, Opt(help="Order size as a fraction of equity (default 1.0)")] = None,
    size_qty: Annotated[float | None, Opt(help="Fixed order quantity")] = None,
    size_notional: Annotated[float | None, Opt(help="Fixed order notional")] = None,
    leverage: Annotated[float, Opt(help="Leverage")] = 1.0,
    qty_step: Annotated[float, Opt(help="Quantity step (0 = none)")] = 0.0,
    min_qty: Annotated[float, Opt(help="Minimum order quantity")] = 0.0,
    funding_rate: Annotated[float | None, Opt(help="Constant funding rate per 8 h (default off)")] = None,
    liquidation: Annotated[bool, Opt("--liquidation", help="Simulate isolated-margin liquidation")] = False,
    as_json: Annotated[bool, Opt("--json", help="Print one JSON object: metrics, periods_per_year, trades")] = False,
    chart: Annotated[Path | None, Opt(help="Also write the equity + drawdown PNG here")] = None,
    show_trades: Annotated[int, Opt("--show-trades", help="Rows of the trade list to print (table mode)")] = 10,
    open_page: Annotated[bool, Opt("--open", help="Open the result's web page (needs `serve --transport http` running)")] = False,
) -> None:
    """Backtest a built-in strategy on the sample, stored candles or your CSV/Parquet file."""
    import engine

    execution = {k: v for k, v in locals().items() if k in _EXECUTION_FLAGS}
    with cli_errors(err):
        config = _config(execution)
        strat = engine.get_strategy(strategy)
        resolved = strat.resolve_params(_parse_params(param or []))
        with engine.CompileAhead(strat.name, resolved, config) as ahead:
            data = load(spec)
            ahead.wait()
        candles = data.candles
        result = engine.backtest(candles, strat, resolved, config)
        record_backtest(data, result, config)
        if chart is not None:
            chart.write_bytes(engine.render_equity_png(result, candles=candles, source=spec.source))
        if as_json:
            label = describe_data(spec.source, result.synthetic)
            payload = {**_payload(result, len(candles)), "provenance": label.text, "notes": list(data.notes),
                       "warnings": list(result.warnings)}  # fmt: skip
            sys.stdout.write(json.dumps(payload, allow_nan=False) + "\n")
            if open_page:
                _page(spec, strat.name, resolved, config, open_it=True, to_stderr=True)
            return
        for note in data.notes:
            err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
        for warning in result.warnings:
            err.print(f"[bold yellow]warning:[/bold yellow] {warning}", highlight=False)
        out.print(f"[bold]{strat.name}[/bold] {resolved} on {_label(spec, result)}: {len(candles):,} bars")
        out.print(_metrics_table(result))
        out.print(_why(result), highlight=False)
        if show_trades > 0 and result.n_trades:
            out.print(_trades_table(result.trade_dicts(limit=show_trades), result.n_trades))
        if open_page:
            _page(spec, strat.name, resolved, config, open_it=True)


def _page(spec: DataSpec, strategy: str, params: dict[str, Any], config: Any, **how: bool) -> None:
    """Print or open the web page of this backtest on the running HTTP server (`cli.ui`)."""
    from mcp_server.cli.ui import show_page
    from mcp_server.settings import Settings

    data = spec.model_dump(mode="json", exclude_none=True)
    if spec.path:  # the server resolves paths against its own folder
        data["path"] = str(Path(spec.path).resolve())
    request = {**data, "strategy": strategy, "params": params}
    if config is not None:
        request["config"] = config.model_dump(mode="json")
    show_page(Settings(), request, **how)


def _payload(result: Any, bars: int) -> dict[str, Any]:
    return {
        "strategy": result.strategy, "params": result.params, "symbol": result.symbol,
        "interval": result.interval, "bars": bars, "synthetic": result.synthetic,
        "time_gaps": result.gaps, "metrics": result.metrics,
        "periods_per_year": result.periods_per_year, "trades": result.trade_dicts(),
    }  # fmt: skip


def _label(spec: DataSpec, result: Any) -> str:
    what = str(spec.path) if spec.source == "file" else f"{result.symbol} {Interval.parse(spec.interval).display}"
    tag = describe_data(spec.source, result.synthetic).tag
    return what + (f" ({tag})" if tag else "")


def _why(result: Any) -> str:
    """The one line on why the strategy did what it did (`engine.explain_result`)."""
    import engine

    return "Why: " + engine.explain_result(result.metrics, float(result.config["initial_capital"]))


def _trades_table(trades: list[dict[str, Any]], total: int) -> Table:
    t = Table(title=f"first {len(trades)} of {total} trades")
    for col in ("entry_time", "exit_time", "side", "entry_price", "exit_price", "pnl", "exit_reason"):
        t.add_column(col)
    for tr in trades:
        t.add_row(
            tr["entry_time"], tr["exit_time"], tr["side"], f"{tr['entry_price']:.2f}",
            f"{tr['exit_price']:.2f}", f"{tr['pnl']:.2f}", tr["exit_reason"],
        )  # fmt: skip
    return t


@app.command()
def strategies(as_json: Annotated[bool, Opt("--json", help="Print the catalogue as JSON")] = False) -> None:
    """List the built-in strategies and their parameters."""
    import engine

    catalogue = engine.list_strategies()
    if as_json:
        sys.stdout.write(json.dumps(catalogue) + "\n")
        return
    t = Table(title="Built-in strategies")
    t.add_column("name", style="bold")
    t.add_column("parameters (default, range)")
    t.add_column("what it does")
    for s in catalogue:
        ps = ", ".join(f"{p['name']}={p['default']} [{p['low']}..{p['high']}]" for p in s["params"]) or "-"
        t.add_row(s["name"], ps, s["description"])
    out.print(t)
