"""Every fix the server suggests names an argument that exists: the error table's hints and
the messages the tools raise are walked, and each argument they mention (`name`, 'name' or
name=) must be in some tool's input schema."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

import engine as E
from mcp_server.errors import PROBLEMS, describe

ROOT = Path(__file__).resolve().parents[2] / "mcp_server"
# The modules whose raised messages reach a tool caller.
RAISING = [*sorted((ROOT / "tools").glob("*.py")), ROOT / "candles.py", ROOT / "market_views.py"]
_NAME = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[a-z]+"
# `name`; 'name' not after '=' (that is a value); name= (not ==, not a comparison)
MENTION = re.compile(rf"`({_NAME})`|(?<![=\w])'({_NAME})'|(?<![\w.=-])({_NAME})=(?!=)")
# Words in quotes that are values or tool names, not arguments.
NOT_ARGUMENTS = {"sample", "store", "file", "local", "live", "offline", "replay"}


def _schema_names(schema: Any, out: set[str]) -> set[str]:
    if isinstance(schema, dict):
        out.update(schema.get("properties", {}))
        for value in schema.values():
            _schema_names(value, out)
    elif isinstance(schema, list):
        for value in schema:
            _schema_names(value, out)
    return out


def _raised_texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) of every string literal inside a `raise` statement of `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            parts = [
                c.value for c in ast.walk(node.exc)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            ]  # fmt: skip
            if parts:
                found.append((f"{path.name}:{node.lineno}", "".join(parts)))
    return found


def _mentions(text: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in MENTION.finditer(text)} - NOT_ARGUMENTS


def test_the_mention_pattern_finds_what_it_should() -> None:
    text = (
        "pass `max_combos`, or source='sample', or 'include_heatmap', or allow_large=True; a == b"
    )
    assert _mentions(text) == {"max_combos", "source", "include_heatmap", "allow_large"}


async def test_every_hint_and_tool_message_names_an_existing_argument(
    server: MCPServer[Any],
) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    arguments = set().union(*(_schema_names(t.input_schema, set()) for t in tools))
    tool_names = {t.name for t in tools}
    texts = [(f"PROBLEMS[{cls.__name__}]", p.hint) for cls, p in PROBLEMS.items()]
    texts += [t for path in RAISING for t in _raised_texts(path)]
    assert len(texts) > 40  # the walk found the messages
    wrong = [
        (where, name, text) for where, text in texts for name in _mentions(text)
        if name not in arguments and name not in tool_names
    ]  # fmt: skip
    assert not wrong, wrong
    assert not [t for t in texts if "Call list_strategies" in t[1]]


@pytest.mark.parametrize("tool", ["optimize_grid", "walk_forward"])
async def test_the_grid_size_error_names_this_tools_argument(
    server: MCPServer[Any], tool: str
) -> None:
    huge = {"params": {"fast": "2:400:1", "slow": "3:2000:1"}}
    async with Client(server) as client:
        r = await client.call_tool(tool, huge)
    text = r.content[0].text  # type: ignore[union-attr]
    assert r.is_error and "combinations" in text
    assert "allow_large" not in text and "max_combos" in text and "optimize_bayesian" in text
    assert not text.rstrip().endswith("list_strategies")


def test_the_engine_message_is_not_what_a_tool_caller_reads() -> None:
    """The engine's own text names its keyword argument; describe() alone would pass it on,
    which is why the tools check the grid themselves."""
    with pytest.raises(E.GridTooLargeError) as info:
        E.make_space("ema_cross", {"fast": "2:400:1", "slow": "3:2000:1"}, []).expand(max_combos=10)
    assert "allow_large=True" in describe(info.value)
