"""The `jobs` toolset and the long tools as jobs, through the SDK client: start a search
job, follow it, list it, cancel one; optimize_* and walk_forward wait for their job with
progress, answer a ticket with wait=false, and cancel their job with the call."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import numba
from jobs_testkit import until_state
from mcp import Client
from mcp.server.mcpserver import MCPServer

import engine as E
from mcp_server.candles import DataSpec
from mcp_server.context import AppContext
from mcp_server.server import build_server
from mcp_server.settings import JobsSettings, ServerSettings, Settings
from mcp_server.tools._args import SearchSpec, config_or_default

SMALL: dict[str, Any] = {"bars": 3000, "params": {"fast": "5:20:5", "slow": [30, 40, 60]}}
# what differs between two runs of the same search: when and where it ran
RUN_FACTS = {"id", "elapsed_s", "table", "heatmap"}


def _server(tmp_path: Path) -> tuple[MCPServer[AppContext], AppContext]:
    settings = Settings(ServerSettings(data_dir=tmp_path, _env_file=None),  # type: ignore[call-arg]
                        jobs=JobsSettings(broker_url="", _env_file=None))  # type: ignore[call-arg]  # fmt: skip
    return build_server(settings)


def _same_search(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in RUN_FACTS}


async def test_start_follow_list_cancel(tmp_path: Path) -> None:
    server, _ = _server(tmp_path)
    async with Client(server) as client:
        args = {
            "params": {"fast": [5, 10], "slow": [30, 50]},
            "strategy": "sma_cross",
            "bars": 2000,
        }
        started = (await client.call_tool("start_search_job", args)).structured_content
        assert started is not None and started["state"] == "queued" and started["total"] == 4
        job_id = started["id"]
        info = await until_state(client, job_id, "succeeded")
        # the result as optimize_grid answers it, the ranked table a resource
        assert info["result"]["evaluated"] == 4 and info["done"] == 4
        table = (await client.read_resource(info["result"]["table"])).contents[0]
        assert len(json.loads(table.text)["rows"]) == 4  # type: ignore[union-attr]
        listed = (await client.call_tool("list_jobs", {})).structured_content
        assert listed is not None and job_id in [j["id"] for j in listed["jobs"]]
        done = (await client.call_tool("cancel_job", {"job_id": job_id})).structured_content
        assert done is not None and done["state"] == "succeeded"  # over already: unchanged
        res = json.loads((await client.read_resource(f"job://{job_id}")).contents[0].text)  # type: ignore[union-attr]
        assert res["state"] == "succeeded" and res["events"][-1]["kind"] == "succeeded"
        assert len(res["result"]["table"]) == 4
        missing = await client.call_tool("get_job", {"job_id": "0" * 32})
        assert missing.is_error and "list jobs" in missing.content[0].text  # type: ignore[union-attr]


async def test_the_long_tools_wait_for_their_job_and_equal_the_in_process_run(
    tmp_path: Path,
) -> None:
    server, context = _server(tmp_path)
    search = SearchSpec(params=SMALL["params"])
    candles = (await context.candles.load(DataSpec(bars=SMALL["bars"]))).candles
    common = {"objective": search.objective, "config": config_or_default(search.config),
              "min_trades": search.min_trades}  # fmt: skip
    space = search.space()
    seen: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    async with Client(server) as client:
        grid = await client.call_tool("optimize_grid", SMALL, progress_callback=on_progress)
        assert not grid.is_error, grid.content
        g = grid.structured_content
        assert g is not None
        whole = E.optimize_grid(candles, space, **common)
        assert g["evaluated"] == whole.summary()["evaluated"] == 12
        assert g["best"]["params"] == whole.best["params"]  # type: ignore[index]
        assert [r["params"] for r in g["top"]] == [r["params"] for r in whole.top(10)[1:]]
        assert seen and seen[-1] == (12, 12)  # the job's progress, to the end

        bayes = await client.call_tool(
            "optimize_bayesian", {**SMALL, "n_trials": 8, "search_seed": 3}
        )
        b = bayes.structured_content
        assert b is not None and not bayes.is_error, bayes.content
        batch = max(8, 4 * numba.get_num_threads())
        local = E.optimize_bayes(candles, space, 8, seed=3, batch_size=batch, **common)
        assert b["best"]["params"] == local.best["params"]  # type: ignore[index]
        assert [r["params"] for r in b["top"]] == [r["params"] for r in local.top(10)[1:]]

        walk = await client.call_tool("walk_forward", {**SMALL, "n_splits": 3})
        w = walk.structured_content
        assert w is not None and not walk.is_error, walk.content
        wf = E.walk_forward(candles, space, n_splits=3, **common).summary()
        assert [s["params"] for s in w["splits"]] == [s["params"] for s in wf["splits"]]
        assert w["n_splits"] == 3 and w["oos"].keys() == wf["oos"].keys()


async def test_wait_false_answers_a_ticket_and_get_job_the_same_result(tmp_path: Path) -> None:
    server, _ = _server(tmp_path)
    async with Client(server) as client:
        waited = (
            await client.call_tool("optimize_random", {**SMALL, "n_samples": 6})
        ).structured_content
        r = await client.call_tool("optimize_random", {**SMALL, "n_samples": 6, "wait": False})
        ticket = r.structured_content
        assert not r.is_error and ticket is not None, r.content
        assert set(ticket) == {"job_id", "state", "hint"} and "get_job" in ticket["hint"]
        info = await until_state(client, ticket["job_id"], "succeeded", "failed")
        assert info["state"] == "succeeded", info
        assert waited is not None and _same_search(info["result"]) == _same_search(waited)
        w = await client.call_tool("walk_forward", {**SMALL, "n_splits": 2, "wait": False})
        assert w.structured_content is not None, w.content
        walked = await until_state(client, w.structured_content["job_id"], "succeeded", "failed")
        assert walked["state"] == "succeeded" and len(walked["result"]["splits"]) == 2


async def test_cancelling_the_call_cancels_its_job(tmp_path: Path) -> None:
    server, _ = _server(tmp_path)
    big = {"bars": 20_000, "params": {"fast": "2:200:1", "slow": "10:400:1"}, "max_combos": 100_000}
    running = anyio.Event()

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        running.set()

    async with Client(server) as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("optimize_grid", big, progress_callback=on_progress)

            tg.start_soon(call)
            with anyio.fail_after(120):
                await running.wait()
            tg.cancel_scope.cancel()
        listed = (await client.call_tool("list_jobs", {"limit": 1})).structured_content
        assert listed is not None
        job_id = listed["jobs"][0]["id"]
        info = await until_state(client, job_id, "cancelled", "succeeded", "failed")
        assert info["state"] == "cancelled" and info["done"] < info["total"], info


async def test_a_job_result_before_it_is_ready_and_unknown_ids(tmp_path: Path) -> None:
    server, _ = _server(tmp_path)
    big = {"bars": 20_000, "params": {"fast": "2:200:1", "slow": "10:400:1"}, "wait": False}
    async with Client(server) as client:
        r = await client.call_tool("optimize_grid", big)
        assert r.structured_content is not None, r.content
        job_id = r.structured_content["job_id"]
        early = await client.call_tool("get_job", {"job_id": job_id, "include_result": True})
        info = early.structured_content
        assert (
            info is not None and info["state"] in ("queued", "running") and info["result"] is None
        )
        stopped = (await client.call_tool("cancel_job", {"job_id": job_id})).structured_content
        assert stopped is not None
        info = await until_state(client, job_id, "cancelled", "succeeded", "failed")
        assert info["state"] == "cancelled" and info["result"] is None
        bad = await client.call_tool("get_job", {"job_id": "not-a-job"})
        assert bad.is_error and "job_id" in bad.content[0].text  # type: ignore[union-attr]
        gone = await client.call_tool("cancel_job", {"job_id": "f" * 32})
        assert gone.is_error and "no job" in gone.content[0].text  # type: ignore[union-attr]


async def test_through_redis_workers_fetch_history_as_a_job_and_a_grid(  # type: ignore[no-untyped-def]
    redis_jobs, tmp_path: Path
) -> None:
    import market as M
    from mcp_server.cli.data import build_fake

    service, workers = redis_jobs
    fake = M.ServerThread(build_fake(5).app).start()
    try:
        workers.env["BST_BYBIT_BASE_URL"] = fake.url
        workers.start("w1")
        settings = Settings(
            ServerSettings(data_dir=tmp_path, bybit_base_url=fake.url, _env_file=None),  # type: ignore[call-arg]
            jobs=service.settings.jobs,
        )
        server, _ = build_server(settings)
        async with Client(server) as client:
            two_days = datetime.now(UTC) - timedelta(days=2)
            args = {"symbol": "BTCUSDT", "interval": "60", "start": two_days.isoformat(timespec="seconds"),
                    "wait": False}  # fmt: skip
            r = await client.call_tool("fetch_history", args)
            assert not r.is_error and r.structured_content is not None, r.content
            info = await until_state(client, r.structured_content["job_id"], "succeeded", "failed")
            assert info["state"] == "succeeded", workers.log("w1")[-3000:]
            assert info["kind"] == "backfill" and info["result"]["candles_added"] >= 40
            assert info["result"]["complete"] and info["result"]["error"] is None
            listed = (await client.call_tool("list_datasets", {})).structured_content
            assert listed is not None
            assert any(d["symbol"] == "BTCUSDT" for d in listed["datasets"])  # in the shared store
            grid = await client.call_tool("optimize_grid", SMALL)
            assert not grid.is_error and grid.structured_content is not None, grid.content
            assert grid.structured_content["evaluated"] == 12
    finally:
        fake.stop()
