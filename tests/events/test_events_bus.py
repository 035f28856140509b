"""The EventBus contract, on both buses: order, same id in both streams, resume, blocking
reads that wake on emit, bounded streams, bad input."""

from __future__ import annotations

import threading
import time

import pytest

from mcp_server.events import EventBus, InvalidEventIdError, JobEvent, MemoryEventBus


def _ids(events: list[JobEvent]) -> list[str]:
    return [e.id for e in events]


def _key(event_id: str) -> tuple[int, int]:
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


def test_events_come_back_in_order_with_their_data(bus: EventBus) -> None:
    ids = [bus.emit("a", "progress", done=i, total=5) for i in range(5)]
    events = bus.read("a")
    assert _ids(events) == ids
    assert sorted(ids, key=_key) == ids and len(set(ids)) == 5
    assert [e.data["done"] for e in events] == [0, 1, 2, 3, 4]
    assert {e.job_id for e in events} == {"a"} and {e.kind for e in events} == {"progress"}
    assert all(e.at > 0 for e in events)


def test_job_and_global_streams_share_ids(bus: EventBus) -> None:
    a1 = bus.emit("a", "queued")
    b1 = bus.emit("b", "queued")
    a2 = bus.emit("a", "succeeded", result="r1")
    assert _ids(bus.read("a")) == [a1, a2]
    assert _ids(bus.read("b")) == [b1]
    every = bus.read(None)
    assert _ids(every) == [a1, b1, a2]
    assert [e.job_id for e in every] == ["a", "b", "a"]
    assert every[2].terminal and every[2].data == {"result": "r1"}


def test_resume_after_an_id_and_count(bus: EventBus) -> None:
    ids = [bus.emit("a", "progress", step=i) for i in range(6)]
    assert _ids(bus.read("a", ids[2])) == ids[3:]
    assert _ids(bus.read("a", ids[1], count=2)) == ids[2:4]
    assert bus.read("a", ids[-1]) == []
    assert bus.read("nobody") == []


def test_a_blocked_read_wakes_on_emit(bus: EventBus) -> None:
    last = bus.emit("a", "started")
    got: list[JobEvent] = []
    reader = threading.Thread(target=lambda: got.extend(bus.read("a", last, block_s=20)))
    reader.start()
    time.sleep(0.2)  # let it block (a read after the emit would pass anyway)
    new = bus.emit("a", "progress", done=1)
    reader.join(timeout=20)
    assert not reader.is_alive()
    assert _ids(got) == [new]


def test_a_blocked_read_with_nothing_new_returns_empty_after_its_time(bus: EventBus) -> None:
    bus.emit("a", "started")
    started = time.monotonic()
    assert bus.read("a", "$", block_s=0.3) == []
    assert time.monotonic() - started >= 0.25


def test_streams_are_bounded(bus: EventBus) -> None:
    """maxlen 50 in the fixture: about 50 kept (Redis trims whole nodes with MAXLEN ~)."""
    ids = [bus.emit("a", "progress", i=i) for i in range(400)]
    kept = bus.read("a", count=1000)
    assert 50 <= len(kept) < 400
    assert _ids(kept) == ids[-len(kept) :]  # the newest are kept
    assert 50 <= len(bus.read(None, count=1000)) < 400


def test_bad_input_is_refused(bus: EventBus) -> None:
    with pytest.raises(InvalidEventIdError, match="not a stream id"):
        bus.read("a", "yesterday")
    with pytest.raises(ValueError):
        bus.emit("a", "exploded")  # type: ignore[arg-type]


def test_closing_the_memory_bus_wakes_blocked_readers_only() -> None:
    bus = MemoryEventBus()
    done: list[float] = []
    reader = threading.Thread(target=lambda: done.append(len(bus.read("a", block_s=30))))
    reader.start()
    time.sleep(0.2)
    bus.close()
    reader.join(timeout=20)
    assert not reader.is_alive() and done == [0]
    started = time.monotonic()
    assert bus.read("a", block_s=0.3) == []  # a later read still blocks its time
    assert time.monotonic() - started >= 0.25
