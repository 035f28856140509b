"""The job commands: `optimize grid --async` on a real worker, then `jobs list|show|watch|
cancel`; without a broker they say what to set."""

from __future__ import annotations

import json

import pytest
from jobs_testkit import wait_terminal
from typer.testing import CliRunner

from mcp_server.cli import app as cli

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _env(redis_jobs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, workers = redis_jobs
    for key in ("BST_BROKER_URL", "BST_VISIBILITY_TIMEOUT", "BST_JOB_RETRY_DELAY", "BST_DATA_DIR"):
        monkeypatch.setenv(key, workers.env[key])


def test_async_grid_then_list_show_watch(redis_jobs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    service, workers = redis_jobs
    _env(redis_jobs, monkeypatch)
    workers.start("w1")
    runner = CliRunner()
    r = runner.invoke(cli, ["optimize", "grid", "--strategy", "sma_cross", "-p", "fast=5,10,15",
                            "-p", "slow=30,50", "--bars", "3000", "--async"])  # fmt: skip
    assert r.exit_code == 0, r.output
    job_id = r.stdout.strip().splitlines()[-1]
    watched = runner.invoke(cli, ["jobs", "watch", job_id])
    assert watched.exit_code == 0 and "succeeded" in watched.output, watched.output
    assert wait_terminal(service, job_id).state == "succeeded"
    listed = runner.invoke(cli, ["jobs", "list", "--json"])
    assert job_id in [j["id"] for j in json.loads(listed.stdout)["jobs"]]
    shown = json.loads(runner.invoke(cli, ["jobs", "show", job_id, "--result"]).stdout)
    assert shown["state"] == "succeeded" and len(shown["result"]["table"]) == 6
    cancel = runner.invoke(cli, ["jobs", "cancel", job_id])
    assert cancel.exit_code == 0 and "succeeded" in cancel.output  # over already: unchanged
    missing = runner.invoke(cli, ["jobs", "show", "nope"])
    assert missing.exit_code == 2 and "list jobs" in missing.output


def test_without_a_broker_the_commands_say_what_to_set(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BST_BROKER_URL", "")
    r = CliRunner().invoke(cli, ["jobs", "list"])
    assert r.exit_code == 2 and "BST_BROKER_URL" in r.output
    w = CliRunner().invoke(cli, ["worker"])
    assert w.exit_code == 2 and "BST_BROKER_URL" in w.output


def test_data_fetch_async_backfills_on_a_worker(redis_jobs, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import market as M
    from mcp_server.cli.data import build_fake

    service, workers = redis_jobs
    _env(redis_jobs, monkeypatch)
    fake = M.ServerThread(build_fake(5).app).start()
    try:
        workers.env["BST_BYBIT_BASE_URL"] = fake.url
        workers.start("w1")
        r = CliRunner().invoke(
            cli, ["data", "fetch", "BTCUSDT", "--interval", "60", "--days", "2", "--async"]
        )
        assert r.exit_code == 0, r.output
        job_id = r.stdout.strip().splitlines()[-1]
        done = wait_terminal(service, job_id)
        assert done.state == "succeeded" and done.kind == "backfill", workers.log("w1")[-3000:]
        result = service.result(job_id, ("backfill",))
        assert result["symbol"] == "BTCUSDT" and result["upserts"] >= 40
        kinds = [e.kind for e in service.events(job_id)]
        assert kinds[:2] == ["queued", "started"] and kinds.count("succeeded") == 1
        assert kinds.count("started") == 1  # the backfill's own start event stays out
    finally:
        fake.stop()
    fake_only = CliRunner().invoke(cli, ["data", "fetch", "BTCUSDT", "--source", "fake", "--async"])
    assert fake_only.exit_code == 2 and "--source fake" in fake_only.output
