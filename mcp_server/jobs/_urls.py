"""Which URL each part of the job system uses, derived from the broker's when not set.

With a Redis broker at `redis://h:p/0`, job state and Celery results go to db 1 and job
events to db 2 of the same server, so one `BST_BROKER_URL` is all a deployment needs.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from mcp_server.errors import StartupError
from mcp_server.events import EventBus, make_event_bus
from mcp_server.settings import JobsSettings, Settings

__all__ = ["events_url_for", "is_redis_url", "job_event_bus", "job_events_url", "result_url_for"]

_REDIS = ("redis", "rediss")
RESULT_DB = 1
EVENTS_DB = 2


def is_redis_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in _REDIS


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def result_url_for(jobs: JobsSettings) -> str:
    """Where job state, results and Celery results live: BST_RESULT_URL, else db 1 of a
    Redis broker, else "" (in-process, only with the embedded worker)."""
    if jobs.result_url.strip():
        return jobs.result_url.strip()
    if jobs.embedded:
        return ""
    if is_redis_url(jobs.broker_url):
        return _with_db(jobs.broker_url.strip(), RESULT_DB)
    raise StartupError(
        "BST_BROKER_URL is not Redis, so workers need a shared store for job state: set "
        "BST_RESULT_URL=redis://host:6379/1"
    )


def events_url_for(broker_url: str, events_url: str, result_url: str = "") -> str:
    """The job-event bus workers and readers share: BST_EVENTS_URL when set; otherwise db 2
    of a Redis broker (so workers in other processes reach the same streams), or of the
    Redis job store behind a RabbitMQ broker; otherwise "" (the in-process bus of an
    embedded worker)."""
    if events_url.strip():
        return events_url.strip()
    for url in (broker_url, result_url):
        if is_redis_url(url):
            return _with_db(url.strip(), EVENTS_DB)
    return ""


def job_events_url(settings: Settings) -> str:
    """The event bus jobs, workers and readers use: `events_url_for` on the settings."""
    jobs = settings.jobs
    result = "" if jobs.embedded else result_url_for(jobs)
    return events_url_for(jobs.broker_url, settings.server.events_url, result)


def job_event_bus(settings: Settings) -> EventBus:
    """The bus `job_events_url` names, its streams as long as BST_EVENTS_*MAXLEN say."""
    jobs = settings.jobs
    return make_event_bus(job_events_url(settings), maxlen_job=jobs.events_job_maxlen,
                          maxlen_global=jobs.events_maxlen)  # fmt: skip
