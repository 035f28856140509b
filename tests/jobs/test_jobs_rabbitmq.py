"""The worker-kill test on RabbitMQ: the broker requeues a lost worker's unacked task as
soon as its connection closes, and the merged grid is still exact."""

from __future__ import annotations

import json

import pytest
from jobs_testkit import load, wait_event, wait_terminal

import engine as E
from mcp_server.tools._args import SearchSpec
from mcp_server.tools.optimize import clean_json

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis, pytest.mark.slow]

SEARCH = SearchSpec(params={"fast": "3:30:1", "slow": [40, 60, 90, 120]}, strategy="sma_cross")


def test_a_sigkilled_worker_is_replaced_on_rabbitmq(rabbit_jobs, source) -> None:  # type: ignore[no-untyped-def]
    service, workers = rabbit_jobs
    assert service.mode == "amqp"
    w1 = workers.start("w1")
    data = load(source, bars=30_000, seed=31)
    record = service.submit_search(data, SEARCH, chunks=6)
    wait_event(service, record.id, "chunk_done")
    workers.kill(w1)
    workers.start("w2")
    done = wait_terminal(service, record.id, timeout=120)
    assert done.state == "succeeded", workers.log("w2")[-3000:]
    whole = E.optimize_grid(data.candles, SEARCH.space(), "sharpe")
    assert service.result(record.id)["table"] == json.loads(json.dumps(clean_json(whole.table())))
