"""Reading the results catalog back, the same on every surface (MCP tools, REST, CLI): a
listing's query from its filters, metric bounds written `name:value`, tagging with bad
tags said as bad input, and a side-by-side comparison of stored runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from mcp_server.errors import RunArgumentError

if TYPE_CHECKING:
    from mcp_server.catalog import Catalog, RunDetail, RunQuery

__all__ = [
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "best_value",
    "data_sets",
    "parse_bounds",
    "parse_time",
    "run_query",
    "run_uris",
    "tag_run",
]

# Which way is better, for marking the best run of a comparison; a metric in neither
# (exposure, exit counts...) is a description, not a score, and is not marked.
HIGHER_IS_BETTER = frozenset({
    "total_return", "cagr", "final_equity", "sharpe", "sortino", "calmar", "sharpe_daily",
    "win_rate", "profit_factor", "expectancy", "expectancy_return", "avg_win", "avg_loss",
    "payoff_ratio", "best_trade", "worst_trade", "sqn",
})  # fmt: skip
LOWER_IS_BETTER = frozenset({
    "max_drawdown", "max_drawdown_duration", "volatility_ann", "ulcer_index", "fees_paid",
    "funding_paid", "max_consecutive_losses",
})  # fmt: skip
_TIME = TypeAdapter(datetime)


def parse_time(value: str | datetime | None, *, end: bool = False) -> datetime | None:
    """An ISO date or time as UTC (no zone: UTC). A bare date as an `end` bound means the
    whole day: until=2026-01-31 keeps the runs of the 31st."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
        if day is not None and len(value) == 10:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        value = _TIME.validate_python(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_bounds(texts: Iterable[str], what: str = "bound") -> dict[str, float]:
    """`name:value` texts (`sharpe:1.2`) as {name: value}."""
    out: dict[str, float] = {}
    for text in texts:
        name, sep, number = text.partition(":")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(number)
        except ValueError:
            raise RunArgumentError(f"{what} {text!r} is not `metric:value` (e.g. sharpe:1.2)") from None
    return out


def run_query(
    *,
    symbol: str | None = None,
    strategy: str | None = None,
    interval: str | None = None,
    tag: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    min_metrics: dict[str, float] | None = None,
    max_metrics: dict[str, float] | None = None,
    sort: str = "created",
    ascending: bool = False,
    limit: int = 20,
    offset: int = 0,
) -> RunQuery:
    """The catalog's query of a listing, from the arguments every surface takes."""
    from mcp_server.catalog import RunQuery

    return RunQuery(
        symbol=symbol or None, strategy=strategy or None, interval=interval or None,
        tag=tag or None, since=parse_time(since), until=parse_time(until, end=True),
        metric_min=dict(min_metrics or {}), metric_max=dict(max_metrics or {}), sort=sort,
        descending=not ascending, limit=limit, offset=offset,
    )  # fmt: skip


def run_uris(run_id: str) -> dict[str, str]:
    """The backtest:// resources of a run."""
    return {k: f"backtest://{run_id}/{k}" for k in ("trades", "equity", "report")}


def tag_run(
    catalog: Catalog, run_id: str, add: Sequence[str], remove: Sequence[str], note: str | None
) -> RunDetail:
    """Tag a stored run; a malformed tag is bad input (not a crash)."""
    try:
        return catalog.tag_run(run_id, list(add), list(remove), note)
    except ValidationError:
        raise
    except ValueError as exc:
        raise RunArgumentError(str(exc)) from None


def best_value(metric: str, values: Sequence[Any]) -> Any:
    """The best of `values` for `metric` (None when it has no better direction or no
    number is given)."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not numbers or metric not in HIGHER_IS_BETTER | LOWER_IS_BETTER:
        return None
    return min(numbers) if metric in LOWER_IS_BETTER else max(numbers)


def data_sets(runs: Sequence[RunDetail]) -> str:
    """Which data the runs ran on: one label when they share it, else each with its ids and
    a warning (metrics of different periods or markets do not rank like for like)."""
    groups: dict[str, list[str]] = {}
    for run in runs:
        groups.setdefault(_data_label(run), []).append(run.id)
    if len(groups) == 1:
        return next(iter(groups))
    parts = "; ".join(f"{label} ({', '.join(ids)})" for label, ids in groups.items())
    return f"different data sets, so not like for like: {parts}"


def _data_label(run: RunDetail) -> str:
    from mcp_server.candles import DataSpec

    try:
        label = DataSpec.model_validate(run.data).label()
    except ValidationError:
        label = f"{run.source}:{run.category}/{run.symbol}/{run.interval}"
    return f"{label} [{run.fingerprint[:8]}]" if run.fingerprint else label
