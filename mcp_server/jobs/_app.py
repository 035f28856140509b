"""The Celery app: five routed queues, late acks, bounded reruns after a lost worker,
prefetch 1, per-queue time limits and a visibility timeout above the longest of them
(see ../shared/specs/jobs-celery.md for why each value is what it is).

No broker configured: `memory://` with an in-process result cache, served by the
embedded worker thread (`_embedded`). `redis://`: Redis broker, results in db 1 (or
BST_RESULT_URL). `amqp://`: RabbitMQ, with BST_RESULT_URL (Redis) for results.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from kombu import Queue

from mcp_server.jobs._urls import is_redis_url, result_url_for
from mcp_server.settings import JobsSettings

__all__ = ["LIMITS", "MAX_WORKER_LOST_RETRIES", "QUEUES", "QueueLimits", "make_celery_app"]


@dataclass(frozen=True)
class QueueLimits:
    """Soft and hard time limits of a queue's tasks, in seconds (prefork pool only)."""

    soft: float
    hard: float


QUEUES = ("backtest", "optimizations.grid", "optimizations.walk", "optimizations.bayes", "backfill")
LIMITS: dict[str, QueueLimits] = {
    "backtest": QueueLimits(300, 360),
    "optimizations.grid": QueueLimits(600, 720),
    "optimizations.walk": QueueLimits(1800, 2100),
    "optimizations.bayes": QueueLimits(1800, 2100),
    "backfill": QueueLimits(900, 1200),
}
MAX_WORKER_LOST_RETRIES = 3
ROUTES = {
    "bst.jobs.backtest": {"queue": "backtest"},
    "bst.jobs.grid_*": {"queue": "optimizations.grid"},
    "bst.jobs.walk_*": {"queue": "optimizations.walk"},
    "bst.jobs.bayes_*": {"queue": "optimizations.bayes"},
    "bst.jobs.backfill_*": {"queue": "backfill"},
    "bst.jobs.scenarios": {"queue": "backtest"},
    "bst.jobs.compare_*": {"queue": "backtest"},
}


def visibility_timeout(jobs: JobsSettings) -> float:
    """BST_VISIBILITY_TIMEOUT, or twice the longest hard limit: a Redis broker redelivers a
    message unacknowledged that long, so it must outlast every running task."""
    return jobs.visibility_timeout or 2 * max(limit.hard for limit in LIMITS.values())


def make_celery_app(jobs: JobsSettings) -> Celery:
    """A configured Celery app with the job tasks registered."""
    from mcp_server.jobs._backtests import register_backtest_tasks
    from mcp_server.jobs._tasks import register_tasks

    if jobs.embedded:
        broker, backend = "memory://", "cache+memory://"
        # 10 ms instead of the 1 s default: the embedded pickup latency
        transport: dict[str, float] = {"polling_interval": 0.01}
    else:
        broker, backend = jobs.broker_url.strip(), result_url_for(jobs)
        vt = visibility_timeout(jobs)
        transport = (
            # throttle 1: a lost worker's job comes back after about VT, not VT + 100 s
            {"visibility_timeout": vt, "unacked_restore_interval": min(60.0, max(1.0, vt / 4)),
             "unacked_restore_throttle": 1}
            if is_redis_url(broker)
            else {}
        )  # fmt: skip
    app = Celery("bst", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_retry_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        result_extended=True,
        result_expires=int(jobs.job_ttl),
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport,
        result_backend_transport_options={k: v for k, v in transport.items() if k == "visibility_timeout"},
        task_queues=[Queue(q) for q in QUEUES],
        task_default_queue="backtest",
        task_create_missing_queues=False,
        task_routes=ROUTES,
        # there is no task_default_retry_delay setting; annotations reach every task
        task_annotations={"*": {"default_retry_delay": jobs.job_retry_delay}},
        worker_proc_alive_timeout=30,
        worker_soft_shutdown_timeout=30,
        worker_hijack_root_logger=False,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
    )  # fmt: skip
    register_tasks(app)
    register_backtest_tasks(app)
    return app
