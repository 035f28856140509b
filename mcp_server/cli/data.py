"""`bybit-tester data ...`: fetch candles into the local store, list, find gaps, export."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

import engine as E
import market as M
from mcp_server.candles import DEFAULT_INTERVAL, write_candles_file
from mcp_server.cli._app import app
from mcp_server.cli._errors import cli_errors, error_line
from mcp_server.errors import EXIT_FAILURE, DataUnavailableError
from mcp_server.market_views import backfill_note
from mcp_server.settings import ServerSettings
from ohlcv import Interval, format_minute, normalize_interval, parse_time_ms

data_app = typer.Typer(
    help="Candles: fetch from Bybit (or the offline fake) into the local store.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

console = Console(stderr=True)
out = Console()


def _store() -> M.CandleStore:
    # The same root the MCP server uses (mcp_server.context), so both see one store.
    return M.CandleStore(ServerSettings().data_dir)  # type: ignore[call-arg]


def _iso(ms: int | None) -> str:
    return "-" if ms is None else format_minute(ms)


def build_fake(
    history_days: float, *, seed: int = 42, ban_s: float = 600.0, speed: float = 1.0
) -> M.FakeBybit:
    """A fake Bybit with the default instruments and `history_days` of history each; its
    market clock runs `speed` times faster than the wall clock."""
    insts = [
        i.model_copy(update={"history_days": max(i.history_days, history_days)})
        for i in M.FakeBybitConfig().instruments
    ]
    config = M.FakeBybitConfig(instruments=insts, seed=seed, ban_s=ban_s)
    # The engine's sample generator: the same realistic series the sample source serves.
    clock = M.FakeClock(speed=speed) if speed != 1.0 else None
    return M.FakeBybit(config, candle_source=E.generate_candles, clock=clock)


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        reqs = int(task.fields.get("requests", 0))
        rate = reqs / elapsed if elapsed > 0 else 0.0
        return Text(f"{reqs} req {rate:5.1f} req/s", style="cyan")


async def _fetch(
    symbol: str, interval: str, days: float, category: str, base_url: str, rate: float
) -> tuple[M.BackfillReport, int]:
    import httpx

    store = _store()
    store.check_writable()
    now = int(time.time() * 1000)
    start = now - int(days * 86_400_000)
    async with httpx.AsyncClient() as http:
        client = M.BybitClient(http, M.ClientConfig(base_url=base_url, rate_per_s=rate))
        md = M.MarketData(store, client)
        columns = [
            TextColumn(f"{symbol} {interval}"), BarColumn(),
            TextColumn("{task.fields[done]:,}/{task.fields[expected]:,} candles"), _RateColumn(), TimeRemainingColumn(),
        ]  # fmt: skip
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("fetch", total=None, requests=0, done=0, expected=0)
            tally = _Tally()

            def on_progress(p: M.FetchProgress) -> None:
                done, expected, requests = tally.update(p)
                # The text column reads the `done`/`expected` fields, so they must be updated
                # along with the bar itself (they used to stay at their initial 0/0).
                bar.update(
                    task, completed=done, total=expected, requests=requests,
                    done=done, expected=expected,
                )  # fmt: skip

            step = Interval.parse(interval)
            newest = step.floor(step.floor(now) - 1)  # the newest closed bar
            report = await md.backfill(
                M.DatasetKey.of(category, symbol, interval), step.floor(start), newest,
                on_progress=on_progress,
            )  # fmt: skip
            if report.error is not None and report.added == 0 and not report.complete:
                raise report.error  # nothing gained: the error and its fix are the answer
            if report.complete and report.stored == 0:
                raise M.InvalidRangeError(
                    f"no candles for {symbol} {interval} ({category}) in the last {days:g} days: "
                    "the range is before the symbol's first candle"
                )
            # Final line: the candles the range now holds (stored before or fetched now).
            n = report.stored
            total = n + report.missing
            bar.update(
                task, completed=n, total=total, done=n, expected=total, requests=tally.requests
            )
        return report, n


class _Tally:
    """Counters summed over the missing ranges of one fetch (each range has its own progress)."""

    def __init__(self) -> None:
        self._current: M.FetchProgress | None = None
        self._base = (0, 0, 0)
        self.requests = 0

    def update(self, p: M.FetchProgress) -> tuple[int, int, int]:
        if p is not self._current:
            if self._current is not None:
                c = self._current
                b = self._base
                self._base = (
                    b[0] + c.candles,
                    b[1] + max(c.expected, c.candles),
                    b[2] + c.requests,
                )
            self._current = p
        done = self._base[0] + p.candles
        expected = self._base[1] + max(p.expected, p.candles)
        self.requests = self._base[2] + p.requests
        return done, expected, self.requests


def _submit_backfill(symbol: str, interval: str, days: float, category: str, source: str) -> None:
    """`data fetch --async`: a backfill job into the workers' store (BST_BYBIT_BASE_URL of
    the workers picks the exchange)."""
    from mcp_server.backfill import BackfillRequest
    from mcp_server.cli.jobs import submit_async

    if source != "bybit":
        raise typer.BadParameter("--async fetches from the workers' exchange; drop --source fake")
    request = BackfillRequest.model_validate({
        "symbol": symbol, "interval": interval, "category": category, "mode": "async",
        "lookback_minutes": max(1, round(days * 1440)),
    })  # fmt: skip
    submit_async(lambda jobs: jobs.submit_backfill(request))


@data_app.command("fetch")
def fetch(
    symbol: str = typer.Argument(..., help="e.g. BTCUSDT"),
    interval: str = typer.Option(
        DEFAULT_INTERVAL, "--interval", "-i", help="1 3 5 15 30 60 120 240 360 720 D W M"
    ),
    days: float = typer.Option(365.0, "--days", min=0.001, help="How far back from now"),
    category: str = typer.Option("linear", "--category", help="linear, spot or inverse"),
    source: str = typer.Option(
        "bybit", "--source", help="bybit (the real exchange) or fake (offline, in-process)"
    ),
    rate: float = typer.Option(
        20.0, "--rate", min=0.1, max=120.0, help="Requests per second (<= 120 = 600 per 5 s)"
    ),
    run_async: bool = typer.Option(
        False, "--async", help="Queue it on the workers' backfill queue (needs BST_BROKER_URL); prints the job id"
    ),
) -> None:
    """Download candles into the local store; only missing ranges are fetched, so re-running resumes."""
    with cli_errors(console):
        interval = normalize_interval(interval)
        symbol = symbol.upper()
        if category not in ("linear", "spot", "inverse"):
            raise typer.BadParameter(f"unknown category {category!r}; use linear, spot or inverse")
        if source not in ("bybit", "fake"):
            raise typer.BadParameter(f"unknown source {source!r}; use bybit or fake")
        if run_async:
            _submit_backfill(symbol, interval, days, category, source)
            return
        server: M.ServerThread | None = None
        if source == "fake":
            console.print("[dim]starting the fake Bybit server on loopback...[/dim]")
            server = M.ServerThread(build_fake(days + 2).app).start()
            base_url = server.url
        else:
            base_url = ServerSettings().bybit_base_url or M.MAINNET_URL  # type: ignore[call-arg]
        try:
            t0 = time.monotonic()
            report, n = asyncio.run(_fetch(symbol, interval, days, category, base_url, rate))
        finally:
            if server is not None:
                server.stop()
        if report is not None and not report.complete:
            # Never a success line for a partial fetch: say what is there and what is not.
            error_line(f"{symbol} {interval} ({category}): {backfill_note(report)}", console)
            raise typer.Exit(EXIT_FAILURE)
        out.print(
            f"{symbol} {interval} ({category}): {n:,} candles in the store for the range ({time.monotonic() - t0:.1f} s)"
        )


@data_app.command("list")
def list_datasets() -> None:
    """Stored data sets with their candle counts, time span, and whether they are exchange
    data or SYNTHETIC (fetched from the fake Bybit)."""
    with cli_errors(console):
        rows = _store().datasets()
        if not rows:
            out.print(
                "no data sets stored yet; try: bybit-tester data fetch BTCUSDT --source fake --days 7"
            )
            return
        table = Table("category", "symbol", "interval", "candles", "first", "last", "MB")
        table.add_column("data", no_wrap=True, min_width=9)  # never cut "SYNTHETIC" short
        for info in rows:
            table.add_row(
                info.key.category, info.key.symbol, info.key.interval, f"{info.candles:,}",
                _iso(info.first), _iso(info.last), f"{info.bytes / 1e6:.1f}",
                "SYNTHETIC" if info.synthetic else "exchange",
            )  # fmt: skip
        out.print(table)


@data_app.command("gaps")
def gaps(
    symbol: str = typer.Argument(...),
    interval: str = typer.Option(DEFAULT_INTERVAL, "--interval", "-i"),
    category: str = typer.Option("linear", "--category"),
) -> None:
    """Holes in a stored data set (ranges the exchange itself has no data for are not listed)."""
    with cli_errors(console):
        key = M.DatasetKey.of(category, symbol, interval)
        store = _store()
        if not any(i.key == key for i in store.datasets()):
            raise DataUnavailableError(
                f"no stored data set {key}; run `bybit-tester data fetch {key.symbol} -i {key.interval}` first"
            )
        found = store.gaps(key)
        if not found:
            out.print(f"{key}: no gaps")
            return
        table = Table("from", "to", "missing ms")
        for g in found:
            table.add_row(_iso(g.start), _iso(g.end), f"{g.end - g.start + 1:,}")
        out.print(table)


@data_app.command("export")
def export(
    symbol: str = typer.Argument(...),
    out_path: Path = typer.Option(..., "--out", "-o", help="FILE.parquet or FILE.csv"),
    interval: str = typer.Option(DEFAULT_INTERVAL, "--interval", "-i"),
    category: str = typer.Option("linear", "--category"),
    start: str | None = typer.Option(None, "--start", help="ISO time or epoch s/ms (inclusive)"),
    end: str | None = typer.Option(None, "--end", help="ISO time or epoch s/ms (inclusive)"),
) -> None:
    """Write stored candles to Parquet or CSV (a synthetic data set keeps its label)."""
    with cli_errors(console):
        key = M.DatasetKey.of(category, symbol, interval)
        lo, hi = parse_time_ms(start, name="--start"), parse_time_ms(end, name="--end")
        if lo is not None and hi is not None and lo > hi:
            raise typer.BadParameter("--start is after --end")
        candles = _store().load(key, lo, hi)
        if len(candles) == 0:
            raise DataUnavailableError(
                f"no stored candles for {key} in that range; fetch them first with `data fetch`"
            )
        write_candles_file(candles, out_path, source="store")
        out.print(f"wrote {len(candles):,} candles to {out_path}")
