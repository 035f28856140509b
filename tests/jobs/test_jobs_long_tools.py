"""generate_test_scenarios and compare_strategies (with many candidates) as jobs, through
the SDK client: the same result as in-process, a ticket with wait=false whose get_job
result matches, cancellation, and the same through real Redis workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jobs_testkit import load, until_state, wait_event, wait_terminal
from mcp import Client
from mcp.server.mcpserver import MCPServer

import engine as E
from mcp_server.candles import DataSpec
from mcp_server.context import AppContext
from mcp_server.jobs import JobService
from mcp_server.numbers import round_json
from mcp_server.results import headline
from mcp_server.scenarios import run_scenarios
from mcp_server.server import build_server
from mcp_server.settings import JobsSettings, ServerSettings, Settings
from mcp_server.tools import backtest as backtest_tools

BARS = 3000
RUN = {"strategy": "sma_cross", "params": {"fast": 10, "slow": 40}, "bars": BARS}
CANDIDATES = [
    {"strategy": "sma_cross", "params": {"fast": f, "slow": s}}
    for f, s in [(5, 30), (10, 40), (15, 60), (20, 80), (8, 50), (12, 70)]
]


def _server(
    tmp_path: Path, jobs: JobsSettings | None = None
) -> tuple[MCPServer[AppContext], AppContext]:
    jobs = jobs or JobsSettings(broker_url="", _env_file=None)  # type: ignore[call-arg]
    return build_server(Settings(ServerSettings(data_dir=tmp_path, _env_file=None), jobs=jobs))  # type: ignore[call-arg]


async def _in_process_runs(context: AppContext) -> list[dict[str, Any]]:
    """The scenario runs as the tool ran them before it was a job: in this process."""
    ds = await context.candles.load(DataSpec(bars=BARS))
    cfg = E.BacktestConfig()
    base = await context.results.run(ds, "sma_cross", RUN["params"], cfg, chart=False)
    resolved = base.summary["params"]
    task = {"strategy": "sma_cross", "params": {**resolved, **cfg.model_dump(exclude_none=True)},
            "metrics": base.summary["metrics"]}  # fmt: skip
    result = await context.router.run("test_scenarios", task, agent="local")
    runs = await run_scenarios(context.results, ds, "sma_cross", resolved, cfg,
                               (result.output or {}).get("scenarios", []),
                               baseline=headline(base.summary["metrics"]))  # fmt: skip
    return json.loads(json.dumps(round_json([r.model_dump(mode="json") for r in runs])))


def _scenario_runs(body: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads(json.dumps(body["runs"]))


async def test_scenarios_run_as_a_job_equal_the_in_process_runs(tmp_path: Path) -> None:
    server, context = _server(tmp_path)
    seen: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    async with Client(server) as client:
        args = {**RUN, "agent": "local"}
        r = await client.call_tool("generate_test_scenarios", args, progress_callback=on_progress)
        waited = r.structured_content
        assert not r.is_error and waited is not None, r.content
        expected = await _in_process_runs(context)
        assert len(expected) > 3 and _scenario_runs(waited) == expected
        assert seen and seen[-1][0] == seen[-1][1]  # progress per scenario, to the end
        ran = next(run for run in waited["runs"] if run["id"])
        report = await client.read_resource(f"backtest://{ran['id']}/report")  # kept here
        assert json.loads(report.contents[0].text)["id"] == ran["id"]  # type: ignore[union-attr]

        t = await client.call_tool("generate_test_scenarios", {**args, "wait": False})
        ticket = t.structured_content
        assert not t.is_error and ticket is not None and set(ticket) == {"job_id", "state", "hint"}
        info = await until_state(client, ticket["job_id"], "succeeded", "failed", "cancelled")
        assert info["state"] == "succeeded" and info["kind"] == "scenarios", info
        assert _scenario_runs(info["result"]) == _scenario_runs(waited)
        assert info["result"]["baseline"] == waited["baseline"]


def test_a_cancelled_scenarios_job_stops(embedded: JobService, source) -> None:  # type: ignore[no-untyped-def]
    data = load(source, bars=200_000, seed=11)
    walks = [
        {"name": f"wf{i}", "parameters": {"train_fraction": 0.7, "n_splits": 6}} for i in range(12)
    ]
    record = embedded.submit_scenarios(
        data, strategy="sma_cross", params={"fast": 10, "slow": 40},
        config=E.BacktestConfig().model_dump(mode="json"), scenarios=walks, baseline={},
    )  # fmt: skip
    assert record.kind == "scenarios" and record.total == 12
    wait_event(embedded, record.id, "progress")
    embedded.cancel(record.id)
    done = wait_terminal(embedded, record.id)
    assert done.state == "cancelled" and done.done < done.total


def _ranking(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {k: row[k] for k in ("rank", "label", "id", "params", "metrics")} for row in body["ranking"]
    ]


async def test_many_candidates_compare_as_a_job_like_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = _server(tmp_path)
    seen: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    args = {"candidates": CANDIDATES, "bars": BARS, "rank_by": "total_return"}
    async with Client(server) as client:
        r = await client.call_tool("compare_strategies", args, progress_callback=on_progress)
        as_job = r.structured_content
        assert not r.is_error and as_job is not None, r.content
        assert seen and seen[-1] == (6, 6)
        t = await client.call_tool("compare_strategies", {**args, "wait": False})
        assert t.structured_content is not None, t.content
        info = await until_state(
            client, t.structured_content["job_id"], "succeeded", "failed", "cancelled"
        )
        assert info["state"] == "succeeded" and info["kind"] == "compare", info
        assert _ranking(info["result"]) == _ranking(as_job)
        row = as_job["ranking"][0]
        report = await client.read_resource(f"backtest://{row['id']}/report")
        assert json.loads(report.contents[0].text)["id"] == row["id"]  # type: ignore[union-attr]
    monkeypatch.setattr(backtest_tools, "_IN_PROCESS_UP_TO", 12)
    server, _ = _server(tmp_path)
    async with Client(server) as client:
        local = (await client.call_tool("compare_strategies", args)).structured_content
    assert local is not None and _ranking(local) == _ranking(as_job)
    assert [r["params"] for r in as_job["ranking"]] != [c["params"] for c in CANDIDATES]  # ranked


def test_a_compare_job_merges_in_candidate_order_and_cancels(embedded: JobService, source) -> None:  # type: ignore[no-untyped-def]
    data = load(source, bars=3000, seed=2)
    cands = [{"strategy": "sma_cross", "params": {"fast": 5 + i, "slow": 60}, "label": None,
              "config": E.BacktestConfig().model_dump(mode="json")} for i in range(7)]  # fmt: skip
    record = embedded.submit_compare(data, cands, {}, chunks=3)
    assert record.chunks == 3 and record.total == 7
    assert wait_terminal(embedded, record.id).state == "succeeded"
    got = embedded.result(record.id, ("compare",))["backtests"]
    assert [b["summary"]["params"]["fast"] for b in got] == [5 + i for i in range(7)]
    kinds = [e.kind for e in embedded.events(record.id)]
    assert kinds.count("chunk_done") == 3 and kinds.count("progress") >= 3

    big = load(source, bars=200_000, seed=2)
    many = [{**c, "params": {"fast": 2 + i % 50, "slow": 60 + i}} for i, c in enumerate(cands * 30)]
    record = embedded.submit_compare(big, many, {}, chunks=2)
    wait_event(embedded, record.id, "progress")
    embedded.cancel(record.id)
    done = wait_terminal(embedded, record.id)
    assert done.state == "cancelled" and done.done < done.total


async def test_through_redis_workers_scenarios_and_compare(redis_jobs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    workers.start("w1")
    workers.start("w2")
    server, _ = _server(tmp_path, service.settings.jobs)
    args = {"candidates": CANDIDATES, "bars": BARS, "rank_by": "sharpe"}
    async with Client(server) as client:
        compared = await client.call_tool("compare_strategies", args)
        assert not compared.is_error and compared.structured_content is not None, compared.content
        scen = await client.call_tool("generate_test_scenarios", {**RUN, "agent": "local"})
        assert not scen.is_error and scen.structured_content is not None, scen.content
    local_server, local_context = _server(tmp_path / "local")
    async with Client(local_server) as client:
        embedded_cmp = (await client.call_tool("compare_strategies", args)).structured_content
    assert embedded_cmp is not None
    assert _ranking(compared.structured_content) == _ranking(embedded_cmp)
    expected = await _in_process_runs(local_context)
    assert _scenario_runs(scen.structured_content) == expected
    logs = workers.log("w1") + workers.log("w2")
    assert "bst.jobs.compare_chunk" in logs and "bst.jobs.scenarios" in logs


async def test_get_job_with_its_result_keeps_one_table_per_job(tmp_path: Path) -> None:
    server, context = _server(tmp_path)
    grid = {"bars": BARS, "params": {"fast": [5, 10], "slow": [30, 50]}, "wait": False}
    async with Client(server) as client:
        ids = []
        for _ in range(2):
            t = await client.call_tool("optimize_grid", grid)
            assert t.structured_content is not None, t.content
            ids.append(t.structured_content["job_id"])
        first = await until_state(client, ids[0], "succeeded", "failed", "cancelled")
        again = await until_state(client, ids[0], "succeeded", "failed", "cancelled")
        other = await until_state(client, ids[1], "succeeded", "failed", "cancelled")
    assert first["result"]["table"] == again["result"]["table"]  # the same entry, not a copy
    assert other["result"]["table"] != first["result"]["table"]  # another job, its own
    rows = context.optimizations.get(first["result"]["id"])["rows"]
    assert len(rows) == 4
