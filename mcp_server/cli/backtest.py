"""`bybit-tester demo` and `bybit-tester backtest`: the engine from the shell.

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

from mcp_server.cli._app import app
from mcp_server.cli._errors import cli_errors
from mcp_server.datafiles import DataFileError, read_candles_file

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

_DEMO_SYMBOL = "BTCUSDT"
_DEMO_INTERVAL = "15"


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


def _from_store(source: str, start: str | None, end: str | None) -> bool:
    """Whether candles come from the store: asked for, or implied by a time range."""
    return source == "store" or (source == "auto" and bool(start or end))


def _load_candles(
    data: Path | None, source: str, symbol: str, interval: str, bars: int, seed: int,
    start: str | None, end: str | None, category: str,
) -> Any:
    import engine

    if data is not None:
        return read_candles_file(data, symbol=symbol if symbol != _DEMO_SYMBOL else "", interval="")
    if _from_store(source, start, end):
        return load_stored(symbol, interval, start, end, category)
    if source not in ("auto", "sample"):
        raise typer.BadParameter(f"--source must be auto, sample or store, got {source!r}")
    return engine.sample_candles(symbol, interval, bars, seed=seed)


def load_stored(symbol: str, interval: str, start: str | None, end: str | None, category: str) -> Any:
    """Candles from the local store (filled by `bybit-tester data fetch`)."""
    import market
    from mcp_server.cli.data import _parse_time
    from mcp_server.market_bridge import to_engine_candles
    from mcp_server.settings import ServerSettings

    store = market.CandleStore(ServerSettings().data_dir)  # type: ignore[call-arg]
    label = market.normalize_interval(interval)
    key = market.DatasetKey.of(category, symbol.upper(), label)
    try:
        stored = store.load(key, _parse_time(start), _parse_time(end))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if len(stored.time) < 2:
        raise DataFileError(
            f"no stored {category} {symbol.upper()} {label} candles in that range; fetch them first: "
            f"bybit-tester data fetch {symbol.upper()} --interval {label} --days 30"
        )
    return to_engine_candles(
        stored, symbol=symbol.upper(), interval=label, synthetic=store.is_synthetic(key)
    )


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
    init = float(result.config["initial_capital"])
    table = Table(title=None, show_header=False, box=None, pad_edge=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x * 100:,.2f} %"

    def num(x: float | None, digits: int = 2) -> str:
        return "n/a" if x is None else f"{x:,.{digits}f}"

    rows = [
        ("Initial capital", f"${init:,.2f}"),
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
    out_png: Annotated[Path, typer.Option("--out", help="Where to write the equity + drawdown chart")] = Path("demo_equity.png"),
    fast: Annotated[int, typer.Option(help="Fast EMA span")] = 20,
    slow: Annotated[int, typer.Option(help="Slow EMA span")] = 50,
    bars: Annotated[int, typer.Option(help="Number of 15-minute bars (default: one year)")] = 35_040,
) -> None:
    """Run the offline demo: EMA 20/50 cross on a year of synthetic BTCUSDT 15m candles
    with Bybit taker fees, print the headline metrics and write a chart."""
    import engine

    with cli_errors(err):
        params = {"fast": fast, "slow": slow}
        with _warm_status("Preparing the engine (compiles once on the first run)..."), \
                engine.CompileAhead("ema_cross", params) as ahead:
            candles = engine.sample_candles(_DEMO_SYMBOL, _DEMO_INTERVAL, bars)
            ahead.wait()
            result = engine.backtest(candles, "ema_cross", params)
        start, end = result.summary()["start"], result.summary()["end"]
        out.print(
            f"[bold]EMA {fast}/{slow} cross on {_DEMO_SYMBOL} {_DEMO_INTERVAL}m[/bold], "
            f"{len(candles):,} bars {start} .. {end}, fee 0.055 %, long/short"
        )
        out.print("[yellow]Data: SYNTHETIC sample (offline, deterministic), not Bybit history.[/yellow]")
        out.print(_metrics_table(result))
        out_png.write_bytes(engine.render_equity_png(result))
        out.print(f"Chart: {out_png.resolve()}")


@app.command()
def backtest(
    data: Annotated[Path | None, typer.Option(help="CSV or Parquet file with time, open, high, low, close, volume")] = None,
    strategy: Annotated[str, typer.Option(help="Built-in strategy name (see `bybit-tester strategies`)")] = "ema_cross",
    param: Annotated[list[str] | None, typer.Option(help="Strategy parameter NAME=VALUE (repeatable)")] = None,
    source: Annotated[str, typer.Option(help="Without --data: auto (store when --start/--end are given, else sample), sample or store")] = "auto",
    symbol: Annotated[str, typer.Option(help="Symbol of the sample or stored data (without --data)")] = _DEMO_SYMBOL,
    start: Annotated[str | None, typer.Option(help="Stored data from this time (ISO 8601 or epoch ms)")] = None,
    end: Annotated[str | None, typer.Option(help="Stored data up to this time (ISO 8601 or epoch ms)")] = None,
    category: Annotated[str, typer.Option(help="Stored data category: linear, inverse or spot")] = "linear",
    interval: Annotated[str, typer.Option(help="Interval for the sample data: 1 3 5 15 30 60 120 240 360 720 D W M")] = _DEMO_INTERVAL,
    bars: Annotated[int, typer.Option(help="Bars of sample data")] = 35_040,
    seed: Annotated[int, typer.Option(help="Seed of the sample generator")] = 42,
    direction: Annotated[str, typer.Option(help="long, short or both")] = "both",
    fill: Annotated[str, typer.Option(help="next_open or close")] = "next_open",
    sl: Annotated[float, typer.Option(help="Stop-loss fraction of the fill price (0 = off)")] = 0.0,
    tp: Annotated[float, typer.Option(help="Take-profit fraction (0 = off)")] = 0.0,
    trail: Annotated[float, typer.Option(help="Trailing-stop fraction (0 = off)")] = 0.0,
    trail_activation: Annotated[float, typer.Option(help="Profit fraction before trailing starts")] = 0.0,
    same_bar: Annotated[str, typer.Option(help="stop_first, tp_first or ohlc_path")] = "stop_first",
    no_entry_bar_check: Annotated[bool, typer.Option("--no-entry-bar-check", help="Do not test SL/TP on the entry bar")] = False,
    fee: Annotated[float, typer.Option(help="Taker fee rate per fill")] = 0.00055,
    maker_fee: Annotated[float | None, typer.Option(help="Fee rate for take-profit fills (default: --fee)")] = None,
    slippage: Annotated[float, typer.Option(help="Adverse slippage fraction on market and stop fills")] = 0.0,
    capital: Annotated[float, typer.Option(help="Initial capital")] = 10_000.0,
    size_fraction: Annotated[float | None, typer.Option(help="Order size as a fraction of equity (default 1.0)")] = None,
    size_qty: Annotated[float | None, typer.Option(help="Fixed order quantity")] = None,
    size_notional: Annotated[float | None, typer.Option(help="Fixed order notional")] = None,
    leverage: Annotated[float, typer.Option(help="Leverage")] = 1.0,
    qty_step: Annotated[float, typer.Option(help="Quantity step (0 = none)")] = 0.0,
    min_qty: Annotated[float, typer.Option(help="Minimum order quantity")] = 0.0,
    funding_rate: Annotated[float | None, typer.Option(help="Constant funding rate per 8 h (default off)")] = None,
    liquidation: Annotated[bool, typer.Option("--liquidation", help="Simulate isolated-margin liquidation")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object: metrics, periods_per_year, trades")] = False,
    chart: Annotated[Path | None, typer.Option(help="Also write the equity + drawdown PNG here")] = None,
    show_trades: Annotated[int, typer.Option("--show-trades", help="Rows of the trade list to print (table mode)")] = 10,
) -> None:
    """Backtest a built-in strategy on your CSV/Parquet file or on the sample data."""
    import engine

    with cli_errors(err):
        sizes = {k: v for k, v in (("equity_fraction", size_fraction), ("fixed_qty", size_qty), ("fixed_notional", size_notional)) if v is not None}
        if len(sizes) > 1:
            raise typer.BadParameter("give at most one of --size-fraction, --size-qty, --size-notional")
        size_mode, size = next(iter(sizes.items())) if sizes else ("equity_fraction", 1.0)
        config = engine.make_config(
            initial_capital=capital, fill=fill, direction=direction, sl=sl, tp=tp, trail=trail,
            trail_activation=trail_activation, check_entry_bar=not no_entry_bar_check,
            same_bar=same_bar, fee=fee, maker_fee=maker_fee, slippage=slippage,
            size_mode=size_mode, size=size, leverage=leverage, qty_step=qty_step, min_qty=min_qty,
            funding_rate=funding_rate, liquidation=liquidation,
        )
        params = _parse_params(param or [])
        strat = engine.get_strategy(strategy)
        resolved = strat.resolve_params(params)
        with engine.CompileAhead(strat.name, resolved, config) as ahead:
            candles = _load_candles(data, source, symbol, interval, bars, seed, start, end, category)
            ahead.wait()
        result = engine.backtest(candles, strat, resolved, config)
        if chart is not None:
            chart.write_bytes(engine.render_equity_png(result))
        if as_json:
            payload = {
                "strategy": result.strategy,
                "params": result.params,
                "symbol": result.symbol,
                "interval": result.interval,
                "bars": len(candles),
                "synthetic": result.synthetic,
                "time_gaps": result.gaps,
                "metrics": result.metrics,
                "periods_per_year": result.periods_per_year,
                "trades": result.trade_dicts(),
            }
            sys.stdout.write(json.dumps(payload, allow_nan=False) + "\n")
            return
        if data is not None:
            label = str(data)
        elif _from_store(source, start, end):
            label = f"stored {result.symbol} {result.interval}" + (
                " (SYNTHETIC: fetched from the fake Bybit)" if result.synthetic else ""
            )
        else:
            label = "SYNTHETIC sample"
        out.print(f"[bold]{strat.name}[/bold] {resolved} on {label}: {len(candles):,} bars")
        out.print(_metrics_table(result))
        if show_trades > 0 and result.n_trades:
            out.print(_trades_table(result.trade_dicts(limit=show_trades), result.n_trades))


def _trades_table(trades: list[dict[str, Any]], total: int) -> Table:
    t = Table(title=f"first {len(trades)} of {total} trades")
    for col in ("entry_time", "exit_time", "side", "entry_price", "exit_price", "pnl", "exit_reason"):
        t.add_column(col)
    for tr in trades:
        t.add_row(
            tr["entry_time"], tr["exit_time"], tr["side"], f"{tr['entry_price']:.2f}",
            f"{tr['exit_price']:.2f}", f"{tr['pnl']:.2f}", tr["exit_reason"],
        )
    return t


@app.command()
def strategies(as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON")] = False) -> None:
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
