"""Prometheus view of the job system, read at scrape time: jobs kept by kind and state
(the outcomes, whichever worker produced them), messages waiting per queue, and whether
the broker answers. A scrape never fails because the broker is down."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mcp_server.jobs._service import JobService

__all__ = ["JobsCollector"]

log = logging.getLogger("mcp_server.jobs")
_SCAN = 10_000


class JobsCollector(Collector):
    """Register on a registry: `registry.register(JobsCollector(service))`."""

    def __init__(self, service: JobService) -> None:
        self.service = service

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "bst_jobs",
            "Jobs kept (BST_JOB_TTL, newest 10000) by kind and state",
            labels=["kind", "state"],
        )
        depth = GaugeMetricFamily(
            "bst_job_queue_depth", "Messages waiting per queue", labels=["queue"]
        )
        up = GaugeMetricFamily("bst_job_store_up", "1 when the job store and broker answer")
        try:
            counts = Counter((r.kind, r.state) for r in self.service.store().list(_SCAN))
            for (kind, state), n in sorted(counts.items()):
                jobs.add_metric([kind, state], n)
            for queue, n in self.service.queue_depths().items():
                depth.add_metric([queue], n)
            up.add_metric([], 1)
        except Exception:  # a scrape reports; it never fails
            log.warning("job metrics unavailable", exc_info=True)
            up.add_metric([], 0)
        yield jobs
        yield depth
        yield up
