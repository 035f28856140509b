"""A job's progress never goes backwards: a progress event whose `done` is not above the
highest one emitted for the job is dropped by the bus, atomically on Redis (emitters in
several processes), under the bus lock in process."""

from __future__ import annotations

import threading

from mcp_server.events import EventBus, RedisEventBus


def _done(bus: EventBus, job_id: str) -> list[int]:
    events = bus.read(job_id, count=10_000)
    return [e.data["done"] for e in events if e.kind == "progress" and "done" in e.data]


def test_a_stale_progress_event_is_dropped(bus: EventBus) -> None:
    assert bus.emit("a", "progress", done=2, total=9)
    assert bus.emit("a", "progress", done=1, total=9) == ""  # arrived late: dropped
    assert bus.emit("a", "progress", done=2, total=9) == ""  # not above: dropped
    assert bus.emit("a", "progress", done=5, total=9)
    assert bus.emit("b", "progress", done=1, total=9)  # per job
    assert bus.emit("a", "chunk_done", chunk=0)  # other kinds are never dropped
    assert bus.emit("a", "progress", candles=3)  # progress without `done`: kept as is
    assert _done(bus, "a") == [2, 5] and _done(bus, "b") == [1]


def test_concurrent_emitters_never_make_progress_go_backwards(bus: EventBus) -> None:
    # on Redis, each thread has its own connection, as separate worker processes would
    buses = [bus]
    if isinstance(bus, RedisEventBus):
        pool = bus.client.connection_pool.connection_kwargs
        url = f"redis://{pool['host']}:{pool['port']}/{pool.get('db', 0)}"
        buses.append(RedisEventBus.from_url(url, prefix=bus.keys.prefix))

    def emit(k: int) -> None:
        for done in range(k, 400, 2):  # interleaved values from two emitters
            buses[k % len(buses)].emit("j", "progress", done=done, total=400)

    threads = [threading.Thread(target=emit, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    got = _done(bus, "j")
    assert got == sorted(set(got)) and got[-1] >= 398, got[:20]
    for extra in buses[1:]:
        extra.close()
