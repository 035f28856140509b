"""The SQL of a run listing: filters, a sort on `created` or on any metric, one page.

A metric sort or bound joins `run_metrics` on (name, value), whose index walks runs in
metric order: a page of a large catalog is read from the index, not sorted whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, func, select
from sqlalchemy.orm import aliased

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
    total = conn.execute(_filtered(select(func.count()).select_from(RunRow), q)).scalar_one()
    # The page's ids first, then their rows: the sort then carries ids, not rows with
    # their JSON (a sort of thousands of wide rows is what makes a page slow).
    stmt = _filtered(select(RunRow.id), q)
    if q.sort == "created":
        order: list[Any] = [RunRow.created.desc() if q.descending else RunRow.created.asc()]
    else:
        m = aliased(RunMetricRow, name="sort_metric")
        # a run without this metric (NaN) is listed last either way
        stmt = stmt.outerjoin(m, and_(m.run_id == RunRow.id, m.name == q.sort))
        value = m.value.desc() if q.descending else m.value.asc()
        order = [m.value.is_(None), value]
    stmt = stmt.order_by(*order, RunRow.id).limit(q.limit).offset(q.offset)
    ids = list(conn.execute(stmt).scalars())
    found = {r.id: r for r in conn.execute(select(*_LINE).where(RunRow.id.in_(ids)))} if ids else {}
    rows = [found[i] for i in ids if i in found]
    tags = _tags(conn, ids)
    lines = [_line(r, tags.get(r.id, []), q.sort) for r in rows]
    after = q.offset + len(lines)
    return RunPage(total=total, offset=q.offset, runs=lines,
                   next_offset=after if after < total else None)  # fmt: skip


_LINE = (RunRow.id, RunRow.created, RunRow.strategy, RunRow.params, RunRow.symbol,
         RunRow.interval, RunRow.source, RunRow.bars, RunRow.trade_count, RunRow.metrics)  # fmt: skip


def _filtered(stmt: Select[Any], q: RunQuery) -> Select[Any]:
    equal = {RunRow.symbol: q.symbol and q.symbol.upper(), RunRow.strategy: q.strategy,
             RunRow.interval: q.interval}  # fmt: skip
    for column, value in equal.items():
        if value:
            stmt = stmt.where(column == value)
    if q.since is not None:
        stmt = stmt.where(RunRow.created >= q.since)
    if q.until is not None:
        stmt = stmt.where(RunRow.created < q.until)
    if q.tag:
        stmt = stmt.where(RunRow.id.in_(select(RunTagRow.run_id).where(RunTagRow.tag == q.tag)))
    for bounds, above in ((q.metric_min, True), (q.metric_max, False)):
        for name, limit in bounds.items():
            m = aliased(RunMetricRow)
            cond = m.value >= limit if above else m.value <= limit
            stmt = stmt.where(
                RunRow.id.in_(select(m.run_id).where(m.name == name, cond))
            )
    return stmt


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
