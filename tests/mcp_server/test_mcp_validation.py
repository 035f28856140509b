"""The one formatter of argument errors: a line per field, what to send instead, no dump."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import engine as E
from mcp_server.tools._args import SearchSpec
from mcp_server.validation import field_lines


def lines_of(make: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        make()
    text = "\n".join(field_lines(info.value.errors()))
    assert "pydantic.dev" not in text and "type=" not in text and "input_value" not in text
    return text.splitlines()


def test_bounds_literals_and_types_say_what_to_send() -> None:
    lines = lines_of(lambda: E.BacktestConfig(fee=0.5, direction="up", sl="x", size=-1))
    assert lines == [
        "direction: must be one of 'long', 'short' or 'both'",
        "sl: must be a number, got a string (a fraction of the price: 0.01 = 1 %)",
        "fee: must be < 0.1 (send a fraction: 0.00055 = 0.055 %)",
        "size: must be > 0.0 (equity_fraction: 0 < size <= 1; fixed_qty: coins; "
        "fixed_notional: quote currency)",
    ]


def test_union_members_fold_into_one_line_per_field() -> None:
    (line,) = lines_of(lambda: SearchSpec(params={"fast": {"a": 1}}))
    assert line.startswith("params.fast: must be a string, got an object or must be a list")


def test_missing_unknown_and_length() -> None:
    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str
        tags: list[str] = []

    class Short(BaseModel):
        tags: list[str] = Field(max_length=1)

    assert lines_of(lambda: Args.model_validate({"nope": 1})) == [
        "name: required",
        "nope: not an argument here; remove it",
    ]
    assert lines_of(lambda: Short(tags=["a", "b"])) == ["tags: takes at most 1 items"]


def test_rest_locations_drop_the_body_prefix_and_long_lists_are_cut() -> None:
    errors = [
        {"type": "missing", "loc": ("body", f"f{i}"), "msg": "Field required"} for i in range(10)
    ]
    lines = field_lines(errors, limit=3)
    assert lines == ["f0: required", "f1: required", "f2: required", "... and 7 more"]
    assert field_lines([{"type": "value_error", "loc": (), "msg": "Value error, bad"}]) == [
        "arguments: bad"
    ]
