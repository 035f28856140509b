"""Fixtures of the job tests: the embedded service (one per process: Celery keeps worker
state in globals), and real `bybit-tester worker` processes on a private redis-server."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from jobs_testkit import Workers

import market as M
from mcp_server.candles import CandleSource
from mcp_server.events import MemoryEventBus, make_event_bus
from mcp_server.jobs import JobService, job_events_url
from mcp_server.settings import JobsSettings, ServerSettings, Settings


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobService]:
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings(
        ServerSettings(data_dir=data_dir, _env_file=None),  # type: ignore[call-arg]
        jobs=JobsSettings(broker_url="", _env_file=None),  # type: ignore[call-arg]
    )
    service = JobService(settings, MemoryEventBus())
    yield service
    service.close()


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> CandleSource:
    return CandleSource(M.CandleStore(tmp_path_factory.mktemp("store")), max_bars=None)


@pytest.fixture
def redis_jobs(redis_url: str, tmp_path: Path) -> Iterator[tuple[JobService, Workers]]:
    """A JobService on a real redis-server and a factory of real workers sharing it.

    Visibility timeout 10 s: above a pool child's death-detection tick (up to 5 s), else
    the message of a lost child comes back twice (rerun and redelivery), and above every
    test task's run time; a whole lost worker's task then returns in about 12 s."""
    jobs = JobsSettings(broker_url=redis_url, visibility_timeout=10, job_retry_delay=0.2,
                        _env_file=None)  # type: ignore[call-arg]  # fmt: skip
    with _jobs_and_workers(tmp_path, redis_url, jobs, {"BST_VISIBILITY_TIMEOUT": "10"}) as pair:
        yield pair


@contextlib.contextmanager
def _jobs_and_workers(
    tmp_path: Path, redis_url: str, jobs: JobsSettings, env: dict[str, str]
) -> Iterator[tuple[JobService, Workers]]:
    """A JobService with these job settings, workers started with the same ones (plus
    `env`), and a clean redis-server afterwards."""
    settings = Settings(ServerSettings(data_dir=tmp_path, _env_file=None), jobs=jobs)  # type: ignore[call-arg]
    service = JobService(settings, make_event_bus(job_events_url(settings)))
    env = {**os.environ, **env, "BST_BROKER_URL": jobs.broker_url,
           "BST_JOB_RETRY_DELAY": str(jobs.job_retry_delay), "BST_DATA_DIR": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    workers = Workers(env, tmp_path, service)
    try:
        yield service, workers
    finally:
        workers.stop_all()
        service.close()
        redis.Redis.from_url(redis_url).flushall()


@pytest.fixture(scope="session")
def rabbit_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private RabbitMQ node on loopback for the session (skipped when not installed,
    failed with BST_REQUIRE_RABBITMQ=1)."""
    from rabbit_testkit import RabbitNode, rabbit_script

    script = rabbit_script()
    if script is None:
        if os.environ.get("BST_REQUIRE_RABBITMQ") == "1":
            pytest.fail("rabbitmq-server not found and BST_REQUIRE_RABBITMQ=1")
        pytest.skip("rabbitmq-server not installed (apt-get install rabbitmq-server); "
                    "set BST_REQUIRE_RABBITMQ=1 to fail instead")  # fmt: skip
    node = RabbitNode(script, tmp_path_factory.mktemp("rabbit"))
    try:
        node.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield node.url
    node.stop()


@pytest.fixture
def rabbit_jobs(
    rabbit_url: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[JobService, Workers]]:
    """A JobService on RabbitMQ (job state, results and events on Redis) and its workers."""
    result = redis_url.rsplit("/", 1)[0] + "/5"
    jobs = JobsSettings(broker_url=rabbit_url, result_url=result, job_retry_delay=0.2,
                        _env_file=None)  # type: ignore[call-arg]  # fmt: skip
    with _jobs_and_workers(tmp_path, redis_url, jobs, {"BST_RESULT_URL": result}) as pair:
        yield pair
