"""The context budget: what a calling model receives from `tools/list` and from the
canonical session (issue #14), measured through the SDK client.

Shared by `bench/mcp.py --budget` (prints the table) and the size tests.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from mcp import Client
from mcp.types import CallToolResult

__all__ = ["BudgetRow", "canonical_session", "result_sizes", "tools_list_bytes"]

GRID = {"fast": "5:50:5", "slow": "20:200:10"}
RUN = {"strategy": "ema_cross", "params": {"fast": 20, "slow": 50}, "symbol": "BTCUSDT", "interval": "15"}
SEARCH = {"strategy": "ema_cross", "params": GRID, "symbol": "BTCUSDT", "interval": "15"}


@dataclass(frozen=True)
class BudgetRow:
    call: str
    text_tokens: int
    image_bytes: int
    seconds: float
    error: bool


def result_sizes(result: CallToolResult) -> tuple[int, int]:
    """(text characters, image bytes) of what the model receives from one call: every
    content block but images as JSON text, images by their decoded size."""
    chars = images = 0
    for block in result.content:
        if block.type == "image":
            images += len(block.data) * 3 // 4
        elif block.type == "text":
            chars += len(block.text)
        else:
            chars += len(block.model_dump_json(by_alias=True, exclude_none=True))
    return chars, images


async def tools_list_bytes(client: Client) -> int:
    """Bytes of the `tools/list` result as sent on the wire (compact JSON)."""
    listed = await client.list_tools()
    return len(listed.model_dump_json(by_alias=True, exclude_none=True))


async def canonical_session(client: Client) -> list[BudgetRow]:
    """list_strategies, run_backtest, optimize_grid, walk_forward, analyze_backtest_results
    and generate_test_scenarios for EMA 20/50 on BTCUSDT 15m, everything else default."""
    rows: list[BudgetRow] = []

    async def call(name: str, args: dict[str, Any]) -> CallToolResult:
        started = time.perf_counter()
        result = await client.call_tool(name, args)
        chars, images = result_sizes(result)
        rows.append(
            BudgetRow(name, round(chars / 4), images, time.perf_counter() - started, result.is_error)
        )
        return result

    await call("list_strategies", {})
    backtest = await call("run_backtest", RUN)
    await call("optimize_grid", SEARCH)
    await call("walk_forward", SEARCH)
    bid = (backtest.structured_content or {}).get("id")
    await call("analyze_backtest_results", {"backtest_id": bid})
    await call("generate_test_scenarios", RUN)
    return rows


def dumps(rows: list[BudgetRow]) -> str:
    return json.dumps([r.__dict__ for r in rows])
