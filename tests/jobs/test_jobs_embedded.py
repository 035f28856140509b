"""The embedded worker (no broker): jobs behave as with one — ids, states, ordered events,
exact merged grids, cancellation, clear errors — and nothing reaches stdout."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from jobs_testkit import load, wait_event, wait_terminal

import engine as E
from mcp_server.errors import JobNotFoundError, JobStateError, lookup
from mcp_server.jobs import JobService
from mcp_server.tools._args import SearchSpec, StrategySpec
from mcp_server.tools.optimize import clean_json

SEARCH = SearchSpec(params={"fast": "4:20:4", "slow": [30, 50, 80]}, strategy="sma_cross")


def test_a_chunked_grid_job_equals_the_in_process_grid(embedded: JobService, source) -> None:  # type: ignore[no-untyped-def]
    data = load(source, bars=4000, seed=7)
    record = embedded.submit_search(data, SEARCH, chunks=4)
    assert record.state == "queued" and record.chunks == 4 and record.total == 15
    done = wait_terminal(embedded, record.id)
    assert done.state == "succeeded" and done.done == done.total == 15
    whole = E.optimize_grid(data.candles, SEARCH.space(), "sharpe")
    got = embedded.result(record.id, ("grid",))
    assert got["table"] == json.loads(json.dumps(clean_json(whole.table())))
    assert got["summary"]["best"] == json.loads(json.dumps(clean_json(whole.best)))


def test_events_arrive_in_order_and_a_late_reader_resumes(embedded: JobService, source) -> None:  # type: ignore[no-untyped-def]
    record = embedded.submit_search(load(source, bars=3000, seed=3), SEARCH, chunks=3)
    wait_terminal(embedded, record.id)
    events = embedded.events(record.id)
    kinds = [e.kind for e in events]
    assert kinds[0] == "queued" and kinds[1] == "started" and kinds[-1] == "succeeded"
    assert kinds.count("chunk_done") == 3 and "progress" in kinds
    assert [e.id for e in events] == sorted(e.id for e in events)  # stream ids only grow
    done = [e.data["done"] for e in events if e.kind == "progress"]
    assert done == sorted(done) and done[-1] == 15
    middle = events[len(events) // 2]
    assert embedded.events(record.id, middle.id) == events[len(events) // 2 + 1 :]


def test_cancel_stops_every_chunk_of_a_running_job(embedded: JobService, source) -> None:  # type: ignore[no-untyped-def]
    data = load(source, bars=60_000, seed=5)
    big = SearchSpec(params={"fast": "2:60:1", "slow": "61:160:3"}, strategy="sma_cross")
    record = embedded.submit_search(data, big, chunks=4, overfit=False)
    wait_event(embedded, record.id, "progress")
    embedded.cancel(record.id)
    done = wait_terminal(embedded, record.id)
    assert done.state == "cancelled" and done.done < done.total
    # the record turns terminal first, then its event is emitted (so a reader woken by the
    # event always finds the final record): wait for the event rather than race it
    wait_event(embedded, record.id, "cancelled")
    kinds = [e.kind for e in embedded.events(record.id)]
    assert kinds.count("cancelled") == 1 and "succeeded" not in kinds
    with pytest.raises(JobStateError, match="cancelled") as err:
        embedded.result(record.id)
    assert lookup(err.value).http == 409  # type: ignore[union-attr]


def test_a_backtest_job_and_the_clear_errors(embedded: JobService, source) -> None:  # type: ignore[no-untyped-def]
    data = load(source, bars=2000)
    record = embedded.submit_backtest(data, StrategySpec(strategy="ema_cross"))
    assert wait_terminal(embedded, record.id).state == "succeeded"
    out = embedded.result(record.id, ("backtest",))
    direct = E.backtest(data.candles, "ema_cross")
    assert out["metrics"]["n_trades"] == direct.metrics["n_trades"]
    with pytest.raises(JobStateError, match="is a backtest job, not grid"):
        embedded.result(record.id, ("grid",))
    with pytest.raises(JobNotFoundError) as err:
        embedded.get("nope")
    assert lookup(err.value).http == 404  # type: ignore[union-attr]
    assert record.id in [r.id for r in embedded.recent(10)]


def test_a_failing_job_fails_with_the_reason(embedded: JobService, source) -> None:  # type: ignore[no-untyped-def]
    data = load(source, bars=300)
    # valid here, but the warm-up leaves nothing to trade: the worker's error becomes the job's
    record = embedded.submit_backtest(
        data, StrategySpec(strategy="sma_cross", params={"fast": 200, "slow": 400})
    )
    done = wait_terminal(embedded, record.id)
    assert done.state == "failed" and done.error
    with pytest.raises(JobStateError, match="failed"):
        embedded.result(record.id)


def test_embedded_jobs_write_nothing_to_stdout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = textwrap.dedent(
        """
        import anyio, sys
        from mcp_server.settings import Settings, ServerSettings, JobsSettings
        from mcp_server.context import AppContext
        from mcp_server.candles import DataSpec
        from mcp_server.tools._args import SearchSpec

        async def main():
            ctx = AppContext(Settings(ServerSettings(data_dir=sys.argv[1], _env_file=None),
                                      jobs=JobsSettings(broker_url="", _env_file=None)))
            data = await ctx.candles.load(DataSpec(bars=2000))
            rec = ctx.jobs.submit_search(data, SearchSpec(params={"fast": [5, 10], "slow": [30, 40]}), chunks=2)
            after = "0"
            while not ctx.jobs.get(rec.id).terminal:
                for e in ctx.jobs.events(rec.id, after, block_s=1.0):
                    after = e.id
            assert ctx.jobs.get(rec.id).state == "succeeded"
            await ctx.aclose()

        anyio.run(main)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert proc.stdout == b""


def test_walk_forward_folds_as_tasks_equal_the_in_process_walk_forward(
    embedded: JobService, source
) -> None:  # type: ignore[no-untyped-def]
    data = load(source, bars=6000, seed=9)
    search = SearchSpec(params={"fast": [5, 10, 20], "slow": [40, 80]}, strategy="ema_cross")
    record = embedded.submit_walk_forward(data, search, n_splits=4, mode="anchored")
    assert record.kind == "walk_forward" and record.chunks == 4
    assert wait_terminal(embedded, record.id).state == "succeeded"
    got = embedded.result(record.id, ("walk_forward",))["summary"]
    whole = E.walk_forward(data.candles, search.space(), "sharpe", n_splits=4, mode="anchored")
    want = json.loads(json.dumps(clean_json(whole.summary())))
    got.pop("elapsed_s"), want.pop("elapsed_s")
    assert got == want


@pytest.mark.parametrize("prune", [False, True])
def test_bayes_batches_on_workers_equal_the_in_process_search(
    embedded: JobService, source, prune: bool
) -> None:  # type: ignore[no-untyped-def]
    data = load(source, bars=5000, seed=12)
    search = SearchSpec(params={"fast": "3:40", "slow": "41:150"}, strategy="sma_cross")
    record = embedded.submit_bayes(
        data, search, n_trials=24, seed=5, batch_size=8, prune=prune, overfit=False
    )
    assert record.kind == "bayes"
    done = wait_terminal(embedded, record.id)
    assert done.state == "succeeded", done.error
    got = embedded.result(record.id, ("bayes",))
    whole = E.optimize_bayes(
        data.candles, search.space(), 24, seed=5, batch_size=8, prune=prune, overfit=False
    )
    assert got["table"] == json.loads(json.dumps(clean_json(whole.table())))
    kinds = [e.kind for e in embedded.events(record.id)]
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "succeeded" and "chunk_done" in kinds
