"""Fuzz every tool with arguments generated from its own input schema: a clear tool error is
fine, an internal error ("Error executing tool X" with no explanation) or a hang is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp_testkit import make_settings

from mcp_server.server import build_server

# Bigger values only cost time: the limits themselves are covered by the tool tests.
_CAPS = {"bars": 2500, "limit": 300, "load_limit": 200, "account_equity": 1e9}


def from_schema(
    schema: dict[str, Any], defs: dict[str, Any], name: str = ""
) -> st.SearchStrategy[Any]:
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].split("/")[-1]], defs, name)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, defs, name) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum", -10_000))
        hi = schema.get("maximum", schema.get("exclusiveMaximum", 10_000))
        hi = min(hi, _CAPS.get(name, hi))
        if kind == "integer":
            return st.integers(int(lo), int(hi))
        return st.floats(
            float(lo),
            float(hi),
            allow_nan=False,
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema and hi == schema["exclusiveMaximum"],
        )
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 60), 60)
        )
    if kind == "array":
        items = from_schema(schema.get("items", {}), defs, name)
        return st.lists(
            items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4)
        )
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if not props:
            return st.dictionaries(
                st.sampled_from(["fast", "slow", "period", "sharpe", "x"]),
                st.floats(-100, 1000, allow_nan=False),
                max_size=3,
            )
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, defs, k) for k, v in props.items() if k in required},
            optional={k: from_schema(v, defs, k) for k, v in props.items() if k not in required},
        )
    return st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=5))


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory, fake_bybit: str) -> tuple[Any, dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    server, _ = build_server(make_settings(tmp, bybit_base_url=fake_bybit))

    async def schemas() -> dict[str, Any]:
        async with Client(server) as c:
            return {t.name: t.input_schema for t in (await c.list_tools()).tools}

    return server, anyio.run(schemas)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz_tools_never_crash(tools: tuple[Any, dict[str, Any]], data: st.DataObject) -> None:
    server, schemas = tools
    name = data.draw(st.sampled_from(sorted(schemas)))
    schema = schemas[name]
    args = data.draw(from_schema(schema, schema.get("$defs", {})), label=name)

    async def call() -> Any:
        async with Client(server) as c:
            with anyio.fail_after(60):
                return await c.call_tool(name, args)

    result = anyio.run(call)
    if result.is_error:
        text = result.content[0].text
        assert text.strip() != f"Error executing tool {name}", (name, args)
