"""`follow` and `follow_sse`: the async readers the SSE route and the CLI use."""

from __future__ import annotations

import json

import anyio
import pytest

from mcp_server.context import AppContext
from mcp_server.events import (
    EventBus,
    InvalidEventIdError,
    JobEvent,
    MemoryEventBus,
    follow,
    follow_sse,
)
from mcp_server.settings import ServerSettings, Settings


async def _collect(bus: EventBus, job: str, after: str = "0") -> list[JobEvent]:
    return [e async for e in follow(bus, job, after, block_s=5)]


async def test_follow_waits_for_new_events_and_ends_at_a_terminal_one(bus: EventBus) -> None:
    bus.emit("j", "queued")
    got: list[JobEvent] = []

    async def reader() -> None:
        got.extend(await _collect(bus, "j"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.sleep(0.2)
        for i in range(3):
            await anyio.to_thread.run_sync(lambda i=i: bus.emit("j", "progress", done=i))
        bus.emit("other", "succeeded")  # another job's end does not stop this one
        bus.emit("j", "succeeded")
        bus.emit("j", "progress", late=True)  # after the end: not read
    assert [e.kind for e in got] == ["queued", "progress", "progress", "progress", "succeeded"]
    assert [e.data.get("done") for e in got[1:4]] == [0, 1, 2]


async def test_follow_resumes_after_the_last_id_seen(bus: EventBus) -> None:
    ids = [bus.emit("j", "progress", done=i) for i in range(4)]
    bus.emit("j", "failed", error="boom")
    resumed = await _collect(bus, "j", ids[1])
    assert [e.id for e in resumed[:2]] == ids[2:]
    assert resumed[-1].kind == "failed" and len(resumed) == 3


async def test_follow_refuses_a_bad_resume_id_before_streaming() -> None:
    with pytest.raises(InvalidEventIdError):
        await _collect(MemoryEventBus(), "j", "last-tuesday")


async def test_follow_sse_frames_events_and_keeps_alive() -> None:
    bus = MemoryEventBus()
    first = bus.emit("j", "started")
    chunks: list[str] = []

    async def reader() -> None:
        async for chunk in follow_sse(bus, "j", first, heartbeat_s=0.1):
            chunks.append(chunk)

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        with anyio.fail_after(20):
            while not chunks:  # wait for a keep-alive before the end event
                await anyio.sleep(0.05)
        end = bus.emit("j", "succeeded", result_id="r")
    assert chunks[0] == ": keep-alive\n\n"
    last = chunks[-1]
    assert last.startswith(f"id: {end}\nevent: succeeded\ndata: ") and last.endswith("\n\n")
    payload = json.loads(last.split("data: ", 1)[1])
    assert payload["job_id"] == "j" and payload["data"] == {"result_id": "r"}
    assert not any(first in c for c in chunks)  # resumed after `first`


async def test_the_context_bus_is_in_process_by_default_and_survives_aclose() -> None:
    context = AppContext(Settings(ServerSettings(events_url="")))
    bus = context.events()
    assert isinstance(bus, MemoryEventBus) and context.events() is bus
    event_id = bus.emit("j", "queued")
    await context.aclose()
    assert context.events() is bus and [e.id for e in bus.read("j")] == [event_id]


async def test_the_context_bus_follows_bst_events_url(redis_url: str) -> None:
    context = AppContext(Settings(ServerSettings(events_url=redis_url)))
    bus = context.events()
    assert type(bus).__name__ == "RedisEventBus"
    bus.emit("ctx-job", "queued")
    assert [e.kind for e in bus.read("ctx-job")] == ["queued"]
    await context.aclose()
    assert context.events() is not bus  # closed, and a fresh one on next use
