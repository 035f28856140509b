"""Stream ids (`<ms>-<seq>`, as Redis writes them): parsing, ordering and the next one."""

from __future__ import annotations

import re
import time

from mcp_server.errors import InvalidEventIdError

__all__ = ["StreamId", "format_id", "next_id", "parse_id"]

StreamId = tuple[int, int]
_ID = re.compile(r"^(\d{1,20})(?:-(\d{1,20}))?$")


def parse_id(text: str) -> StreamId:
    """`"0"`, `"1700000000000"` or `"1700000000000-3"` as an ordered pair."""
    match = _ID.match(text.strip())
    if match is None:
        raise InvalidEventIdError(
            f"event id {text[:40]!r} is not a stream id; pass '0' (from the start) or an id "
            "received earlier, like '1700000000000-0'"
        )
    return int(match.group(1)), int(match.group(2) or 0)


def next_id(last: StreamId, now_ms: int | None = None) -> StreamId:
    """The id after `last`: this millisecond, or `last`'s with the sequence bumped when the
    clock has not moved on (or went back), so ids only ever grow."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return (ms, 0) if ms > last[0] else (last[0], last[1] + 1)


def format_id(value: StreamId) -> str:
    return f"{value[0]}-{value[1]}"
