"""Queue depths for /metrics on a RabbitMQ broker (a real rabbitmq-server): waiting tasks
are counted per queue with a passive declare, and a broker that is down costs a scrape
seconds, not a hang."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from jobs_testkit import load, wait_terminal
from servers_testkit import free_port

from mcp_server.events import MemoryEventBus
from mcp_server.jobs import JobService
from mcp_server.jobs._telemetry import JobsCollector
from mcp_server.settings import JobsSettings, ServerSettings, Settings
from mcp_server.tools._args import SearchSpec

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis]

SEARCH = SearchSpec(params={"fast": [5, 10, 15], "slow": [40, 60]}, strategy="sma_cross")


def _depth(service: JobService) -> dict[str, float]:
    families = {f.name: f for f in JobsCollector(service).collect()}
    assert families["bst_job_store_up"].samples[0].value == 1
    return {s.labels["queue"]: s.value for s in families["bst_job_queue_depth"].samples}


def test_rabbitmq_queue_depths_count_waiting_tasks(rabbit_jobs, source) -> None:  # type: ignore[no-untyped-def]
    service, workers = rabbit_jobs
    record = service.submit_search(load(source, bars=2000, seed=4), SEARCH, chunks=3)
    deadline = time.monotonic() + 30
    while (depths := _depth(service)).get("optimizations.grid") != 3:
        assert time.monotonic() < deadline, depths
        time.sleep(0.2)
    assert set(depths) == {"backtest", "optimizations.grid", "optimizations.walk",
                           "optimizations.bayes", "backfill"}  # fmt: skip
    workers.start("w1")
    assert wait_terminal(service, record.id).state == "succeeded"
    assert _depth(service)["optimizations.grid"] == 0


def test_a_rabbitmq_broker_that_is_down_costs_a_scrape_seconds(
    redis_url: str, tmp_path: Path
) -> None:
    jobs = JobsSettings(broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//",
                        result_url=redis_url.rsplit("/", 1)[0] + "/6", _env_file=None)  # type: ignore[call-arg]  # fmt: skip
    settings = Settings(ServerSettings(data_dir=tmp_path, _env_file=None), jobs=jobs)  # type: ignore[call-arg]
    service = JobService(settings, MemoryEventBus())
    started = time.monotonic()
    families = {f.name: f for f in JobsCollector(service).collect()}
    assert time.monotonic() - started < 10.0
    assert families["bst_job_store_up"].samples[0].value == 0
    assert families["bst_job_queue_depth"].samples == []
    service.close()
