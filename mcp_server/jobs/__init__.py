"""Jobs on Celery: long work on workers that scale out, survive crashes and report progress.

* `_app`: `make_celery_app`, the five routed queues and their limits.
* `_tasks`: the tasks (a backtest; a chunk of a grid or random search, the last one merges).
* `_store`: job records, cancel flags and results under deterministic keys (Redis or memory).
* `_runtime`: what tasks need (store, event bus, candle source), per process.
* `_bayes`: the coordinator of a Bayesian search (sampler here, batches on workers).
* `_embedded`: the in-process worker thread used when no broker is configured.
* `_service`: `JobService`, the one API of every surface (submit, get, cancel, result, events).
* `_urls`: which Redis db each part uses; `events_url_for` (events on the broker's Redis).
"""

from mcp_server.jobs._app import LIMITS, QUEUES, QueueLimits, make_celery_app
from mcp_server.jobs._requests import BacktestJob, BayesJob, SearchJob, WalkForwardJob
from mcp_server.jobs._runtime import JobRuntime
from mcp_server.jobs._service import JobService
from mcp_server.jobs._store import JobKind, JobRecord, JobState, MemoryJobStore, RedisJobStore
from mcp_server.jobs._urls import events_url_for, job_event_bus, job_events_url, result_url_for

__all__ = [
    "LIMITS",
    "QUEUES",
    "BacktestJob",
    "BayesJob",
    "JobKind",
    "JobRecord",
    "JobRuntime",
    "JobService",
    "JobState",
    "MemoryJobStore",
    "QueueLimits",
    "RedisJobStore",
    "SearchJob",
    "WalkForwardJob",
    "events_url_for",
    "job_event_bus",
    "job_events_url",
    "make_celery_app",
    "result_url_for",
]
