"""A task that kills its own pool process every time (an OOM-kill stand-in), loaded into
test workers with `--include jobs_poison`."""

from __future__ import annotations

import os
import signal

import redis
from celery import shared_task


@shared_task(name="bst.test.poison", bind=True)
def poison(self: object, redis_url: str, counter: str) -> None:
    redis.Redis.from_url(redis_url).rpush(counter, os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)
