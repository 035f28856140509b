"""The SQL of a run listing: filters, a sort on `created` or on any metric, one page.

A metric sort reads `run_metrics`, whose rows carry the run's symbol, strategy, interval
and time, in the order of an index on (name, [symbol | strategy,] value): the page of a
large catalog is read from an index, not sorted whole; runs without the metric follow.
A metric bound drives the count from that metric's rows the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, exists, func, select

from mcp_server.catalog._records import RunLine, RunPage, RunQuery
from mcp_server.catalog._schema import RunMetricRow, RunRow, RunTagRow
from mcp_server.catalog._times import iso
from mcp_server.errors import UnknownMetricError

__all__ = ["LIST_METRICS", "run_page"]

# the metrics every listed run shows (the sort metric is added when it is another)
LIST_METRICS = ("total_return", "sharpe", "max_drawdown", "win_rate", "n_trades")


def _check(names: Sequence[str], known: Sequence[str], what: str) -> None:
    for name in names:
        if name not in known:
            raise UnknownMetricError(
                f"{what} {name!r} is not a metric; known: {', '.join(known)}"
            )


def run_page(conn: Connection, q: RunQuery, known: Sequence[str]) -> RunPage:
    _check(list(q.metric_min) + list(q.metric_max), known, "filter on")
    if q.sort != "created":
        _check([q.sort], known, "sort by")
    base, base_id = _matching(q)
    total = conn.execute(select(func.count()).select_from(base)).scalar_one()
    if q.sort == "created":
        order = base.c.created.desc() if q.descending else base.c.created.asc()
        stmt = select(base_id).order_by(order, base_id).limit(q.limit).offset(q.offset)
        ids = list(conn.execute(stmt).scalars())
    else:
        ids = _by_metric(conn, q, base_id, walk=total > _WALK_FROM)
    found = {r.id: r for r in conn.execute(select(*_LINE).where(RunRow.id.in_(ids)))} if ids else {}
    rows = [found[i] for i in ids if i in found]
    tags = _tags(conn, ids)
    lines = [_line(r, tags.get(r.id, []), q.sort) for r in rows]
    after = q.offset + len(lines)
    return RunPage(total=total, offset=q.offset, runs=lines,
                   next_offset=after if after < total else None)  # fmt: skip


_LINE = (RunRow.id, RunRow.created, RunRow.strategy, RunRow.params, RunRow.symbol,
         RunRow.interval, RunRow.source, RunRow.bars, RunRow.trade_count, RunRow.metrics)  # fmt: skip
_METRICS: Any = RunMetricRow.__table__
_RUNS: Any = RunRow.__table__


def _bounds(q: RunQuery) -> list[tuple[str, bool, float]]:
    return [(n, True, v) for n, v in q.metric_min.items()] + [
        (n, False, v) for n, v in q.metric_max.items()
    ]


def _restrict(stmt: Select[Any], table: Any, run_id: Any, q: RunQuery, skip: int = -1,
              ordered: bool = False) -> Select[Any]:  # fmt: skip
    """`stmt` over `table` (runs, or run_metrics, which carries the same filter columns)
    kept to the query's filters and metric bounds (but bound number `skip`). `ordered`: the
    statement walks a metric's index in value order for one page, so the tag is checked
    per row (`run_id || ''` keeps the planner from starting at the tag's runs: with a
    common tag it looked up and sorted thousands of them to return twenty)."""
    equal = {"symbol": q.symbol and q.symbol.upper(), "strategy": q.strategy,
             "interval": q.interval}  # fmt: skip
    for column, value in equal.items():
        if value:
            stmt = stmt.where(table.c[column] == value)
    if q.since is not None:
        stmt = stmt.where(table.c.created >= q.since)
    if q.until is not None:
        stmt = stmt.where(table.c.created < q.until)
    if q.tag:
        probe = run_id.concat("") if ordered else run_id
        stmt = stmt.where(probe.in_(select(RunTagRow.run_id).where(RunTagRow.tag == q.tag)))
    for i, (name, above, limit) in enumerate(_bounds(q)):
        if i != skip:
            b = _METRICS.alias(f"bound_{i}")
            cond = b.c.value >= limit if above else b.c.value <= limit
            stmt = stmt.where(exists().where(b.c.run_id == run_id, b.c.name == name, cond))
    return stmt


def _matching(q: RunQuery) -> tuple[Any, Any]:
    """The runs the filters keep, as a subquery and its id column. With a metric bound they
    are read from that metric's rows (narrow, indexed by value), else from runs."""
    bounds = _bounds(q)
    if bounds:
        name, above, limit = bounds[0]
        m = _METRICS.alias("bound")
        cond = m.c.value >= limit if above else m.c.value <= limit
        stmt = select(m.c.run_id.label("id"), m.c.created).where(m.c.name == name, cond)
        sub = _restrict(stmt, m, m.c.run_id, q, skip=0).subquery("matching")
    else:
        stmt = select(_RUNS.c.id, _RUNS.c.created)
        sub = _restrict(stmt, _RUNS, _RUNS.c.id, q).subquery("matching")
    return sub, sub.c.id


# Above this many matching runs, a metric-sorted page walks the metric's index (about
# limit x all / matching rows read); at or below it, the matching runs are looked up and
# sorted (a few thousand lookups), which beats walking past 100,000 runs to find five.
_WALK_FROM = 2_000


def _by_metric(conn: Connection, q: RunQuery, base_id: Any, walk: bool = True) -> list[str]:
    """A page sorted by a metric: the runs that have it, read in order from an index on
    (name, [symbol | strategy,] value); then those without it (by id), listed last."""
    m = _METRICS.alias("sort_metric")
    base = select(m.c.run_id).where(m.c.name == q.sort)
    value = m.c.value.desc() if q.descending else m.c.value.asc()
    pick = _restrict(base, m, m.c.run_id, q, ordered=walk)
    page = pick.order_by(value, m.c.run_id).limit(q.limit).offset(q.offset)
    ids = list(conn.execute(page).scalars())
    if len(ids) == q.limit:
        return ids
    has = _restrict(base, m, m.c.run_id, q)  # counted from the filter's side, not walked
    with_metric = conn.execute(select(func.count()).select_from(has.subquery())).scalar_one()
    s = _METRICS.alias("has_sort")
    lacking = select(base_id).where(~exists().where(s.c.run_id == base_id, s.c.name == q.sort))
    rest = lacking.order_by(base_id).limit(q.limit - len(ids)).offset(max(0, q.offset - with_metric))
    return ids + list(conn.execute(rest).scalars())


def _tags(conn: Connection, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if ids:
        rows = conn.execute(select(RunTagRow.run_id, RunTagRow.tag)
                            .where(RunTagRow.run_id.in_(ids)).order_by(RunTagRow.tag))  # fmt: skip
        for run_id, tag in rows:
            out.setdefault(run_id, []).append(tag)
    return out


def _line(r: Any, tags: list[str], sort: str) -> RunLine:
    names = LIST_METRICS if sort in LIST_METRICS or sort == "created" else (*LIST_METRICS, sort)
    metrics = r.metrics or {}
    return RunLine(
        id=r.id, created=iso(r.created) or "", strategy=r.strategy, params=r.params,
        symbol=r.symbol, interval=r.interval, source=r.source, bars=r.bars,
        trades=r.trade_count, metrics={k: metrics.get(k) for k in names}, tags=tags,
    )  # fmt: skip
