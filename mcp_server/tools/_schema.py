"""Compact tool schemas: `tools/list` is read by the calling model before its first call,
so every byte in it costs context in every session.

Pydantic's schemas carry a generated `title` on every field and spell an optional
argument as `anyOf: [X, {"type": "null"}]` with `default: null`. Neither tells the
model anything: titles repeat the name, and an optional argument is simply one that
is not `required`. Output schemas keep their null branches, because clients validate
structured results against them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CONFIG_BRIEF", "CONFIG_REF", "compact_input", "compact_output", "refer_listed_enums"]

_NULL = {"type": "null"}
# Size caps guard the server against abuse; a model never needs them to fill a call, and
# a value over a cap still gets a one-line error naming it.
_CAPS = {"maxLength", "minLength", "maxProperties", "maxItems"}

# The engine's config carries a description and bounds per field (REST and docs show
# them); in a tool schema, where it appears in seven tools, one paragraph names every
# field with its default in a third of the bytes. The server still validates the object
# field by field, and an unknown or out-of-range field gets a one-line error.
CONFIG_BRIEF = (
    "Execution options [default]. Fractions: 0.02 = 2 %. fee [0.00055 = 0.055 % Bybit "
    "taker], maker_fee for TP fills [fee], slippage [0], sl/tp/trail from the fill or best "
    "price [0 = off], trail_activation [0], check_entry_bar [true], same_bar stop_first|"
    "tp_first|ohlc_path, fill next_open|close, direction long|short|both, size_mode "
    "equity_fraction|fixed_qty|fixed_notional, size [1], leverage [1], initial_capital "
    "[10000], qty_step, min_qty, funding_rate [off], funding_hours [8], liquidation "
    "[false], maintenance_margin [0.005]."
)
# Every other tool points at run_backtest's paragraph (the model reads the whole list).
CONFIG_REF = "Execution options, as in run_backtest's `config` (fractions: fee 0.00055 = 0.055 %)."
# A list of names this long (the strategies) is spelled out in the first tool that takes
# it; later tools name that tool, as `config` names run_backtest (the server still checks
# every value, and an unknown one gets the list in its error).
_LONG_ENUM = 6
_BRIEFS = {"BacktestConfig": CONFIG_BRIEF}
_REFS = {"BacktestConfig": CONFIG_REF}


def compact_input(schema: dict[str, Any], *, primary: bool = True) -> dict[str, Any]:
    """An argument schema without titles, null branches or null defaults; `primary`:
    shared models spelled out (else a pointer to the tool that does)."""
    return _strip_keys(_compact(schema, drop_null=True, briefs=_BRIEFS if primary else _REFS), _CAPS)


def refer_listed_enums(schema: dict[str, Any], homes: Mapping[tuple[str, str], str]) -> None:
    """Replace each long enum of an argument that an earlier tool lists (`homes`: argument
    and enum JSON -> that tool) by a pointer to it."""
    for arg, spec in schema.get("properties", {}).items():
        if not isinstance(spec, dict) or len(spec.get("enum", ())) < _LONG_ENUM:
            continue
        values = spec["enum"]
        home = homes.get((arg, json.dumps(values)))
        if home is not None and all(isinstance(v, str) for v in values):
            del spec["enum"]
            spec["type"] = "string"
            spec.setdefault("description", f"As in {home}")


def compact_output(schema: dict[str, Any]) -> dict[str, Any]:
    """A result schema for the client's validation: the top level typed, nested models
    left open, and no titles, descriptions or defaults (the model reads the result itself)."""
    slim = _strip_keys(_compact(schema, drop_null=False), {"description", "required", "default"})
    return _plain(_open_refs({k: v for k, v in slim.items() if k != "$defs"}, depth=0))


def _compact(node: Any, *, drop_null: bool, briefs: Mapping[str, str] | None = None) -> Any:
    if isinstance(node, list):
        return [_compact(v, drop_null=drop_null) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {k: _compact(v, drop_null=drop_null) for k, v in value.items()}
            if key == "$defs":
                out[key] = {k: _brief(briefs or {}, k, v) for k, v in out[key].items()}
            continue
        out[key] = _compact(value, drop_null=drop_null)
    if drop_null:
        out = _without_null(out)
    if "$ref" in out:  # the definition describes itself
        out.pop("description", None)
    return _no_int_cap(_type_list(out))


def _open_refs(node: Any, depth: int) -> Any:
    """Every `$ref` replaced by the empty (any-value) schema, and objects below the top
    level's fields typed as objects only."""
    if isinstance(node, list):
        return [_open_refs(v, depth) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {}
    if depth > 2 and node.get("type") == "object":
        return {"type": "object"}
    return {k: _open_refs(v, depth + 1) for k, v in node.items()}


def _plain(node: Any) -> Any:
    """An opened result schema in its shortest spelling: what any JSON value satisfies
    anyway (`additionalProperties: true`, `items: {}`) left out, and the `anyOf` of bare
    types the opened references leave as one `type` list."""
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):  # field names, not keywords
            out[key] = {name: _plain(v) for name, v in value.items()}
        elif not ((key, value) == ("additionalProperties", True) or (key, value) == ("items", {})):
            out[key] = _plain(value)
    return _type_list(out)


def _no_int_cap(node: dict[str, Any]) -> dict[str, Any]:
    """No `maximum` that only says "fits in 32 bits" (a seed's)."""
    if node.get("maximum") == 2**31 - 1:
        node = {k: v for k, v in node.items() if k != "maximum"}
    return node


def _type_list(node: dict[str, Any]) -> dict[str, Any]:
    """`anyOf` of bare types as one `type` list, and no `type` beside an `enum` of
    strings: the same schema in fewer bytes."""
    values = node.get("enum")
    strings = isinstance(values, list) and all(isinstance(v, str) for v in values)
    if node.get("type") == "string" and strings:
        node = {k: v for k, v in node.items() if k != "type"}
    branches = node.get("anyOf")
    if isinstance(branches, list) and all(
        isinstance(b, dict) and set(b) == {"type"} and isinstance(b["type"], str) for b in branches
    ):
        node = {k: v for k, v in node.items() if k != "anyOf"}
        node["type"] = [b["type"] for b in branches]
    return node


def _brief(briefs: Mapping[str, str], name: str, definition: Any) -> Any:
    """A model's definition reduced to one paragraph naming its fields."""
    brief = briefs.get(name)
    if brief is None or not isinstance(definition, dict):
        return definition
    return {"type": "object", "description": brief}


def _without_null(node: dict[str, Any]) -> dict[str, Any]:
    branches = node.get("anyOf")
    if isinstance(branches, list) and _NULL in branches:
        rest = [b for b in branches if b != _NULL]
        node = {k: v for k, v in node.items() if k != "anyOf"}
        if len(rest) == 1:
            node = {**rest[0], **node}
        else:
            node["anyOf"] = rest
    if "default" in node and node["default"] is None:
        node = {k: v for k, v in node.items() if k != "default"}
    return node


def _strip_keys(node: Any, keys: set[str]) -> Any:
    if isinstance(node, list):
        return [_strip_keys(v, keys) for v in node]
    if not isinstance(node, dict):
        return node
    return {
        k: (
            {n: _strip_keys(v, keys) for n, v in value.items()}
            if k in ("properties", "$defs") and isinstance(value, dict)
            else _strip_keys(value, keys)
        )
        for k, value in node.items()
        if k not in keys
    }
