"""Argument errors as one line per field that says what to send instead.

Pydantic's own text is a multi-line dump with type tags, inputs and
`https://errors.pydantic.dev` links: noise for a model deciding what to change.
Every surface formats validation errors here: MCP tools (`tools._runtime` wraps
the SDK's argument check), the REST app (`rest_validation_handler`, 422) and the
CLI (through `errors.describe`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the CLI imports this module too: no web framework at start-up
    from starlette.requests import Request
    from starlette.responses import JSONResponse

__all__ = ["argument_errors", "field_lines", "rest_validation_handler"]

_FRACTION = "send a fraction: 0.00055 = 0.055 %"
_PRICE_FRACTION = "a fraction of the price: 0.01 = 1 %"
# What to send instead, for the fields people most often get wrong.
_ADVICE: dict[str, str] = {
    "fee": _FRACTION,
    "maker_fee": _FRACTION,
    "slippage": _FRACTION,
    "funding_rate": "send a fraction per period: 0.0001 = 0.01 %",
    "maintenance_margin": "send a fraction: 0.005 = 0.5 %",
    "sl": _PRICE_FRACTION,
    "tp": _PRICE_FRACTION,
    "trail": _PRICE_FRACTION,
    "trail_activation": "a profit fraction: 0.01 = 1 %",
    "size": "equity_fraction: 0 < size <= 1; fixed_qty: coins; fixed_notional: quote currency",
    "start": "an ISO date like 2024-01-01, or epoch seconds",
    "end": "an ISO date like 2024-01-01, or epoch seconds",
    "params": 'e.g. {"fast": 10, "slow": 40}; optimisers take ranges like {"fast": "5:50:5"}',
}
_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_KINDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "dict": "an object",
    "list": "a list",
    "model": "an object",
}
# Location parts pydantic adds for union members and validators: not field names.
_TAG = re.compile(
    r"[\[\](),]|^constrained-|^(str|int|float|bool|list|dict|none|json-or-python)$", re.I
)
_LOCATION_ROOTS = frozenset({"body", "query", "path", "header", "cookie"})


def field_lines(errors: Iterable[Mapping[str, Any]], *, limit: int = 8) -> list[str]:
    """`field: what is wrong (what to send instead)`, one line per field, in order."""
    by_field: dict[str, list[str]] = {}
    for error in errors:
        where = _where(error.get("loc", ()))
        text = _what(error, where.rsplit(".", 1)[-1])
        seen = by_field.setdefault(where, [])
        if text not in seen:
            seen.append(text)
    lines = [f"{where}: {' or '.join(texts)}" for where, texts in by_field.items()]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


class _Invalid(Protocol):
    """pydantic's ValidationError and FastAPI's RequestValidationError alike."""

    def errors(self) -> Sequence[Any]: ...


def argument_errors(exc: _Invalid) -> str:
    """The lines of `exc`, newline-separated."""
    return "\n".join(field_lines(exc.errors()))


async def rest_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's handler for a request that fails validation: 422 with the lines."""
    from starlette.responses import JSONResponse

    lines = field_lines(getattr(exc, "errors", list)())
    return JSONResponse({"detail": "; ".join(lines), "errors": lines}, status_code=422)


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if not _TAG.search(str(p))]
    if len(parts) > 1 and parts[0] in _LOCATION_ROOTS:
        parts = parts[1:]
    return ".".join(parts) or "arguments"


def _what(error: Mapping[str, Any], name: str) -> str:
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    advice = _ADVICE.get(name)
    if kind in _BOUNDS:
        limit = next(iter(ctx.values()), "?")
        text = f"must be {_BOUNDS[kind]} {limit}"
    elif kind == "missing":
        text = "required"
    elif kind == "extra_forbidden":
        return "not an argument here; remove it"
    elif kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', '?')}"
    elif kind == "string_pattern_mismatch":
        text = f"must match {ctx.get('pattern', '?')}"
    elif kind in ("too_short", "string_too_short"):
        text = f"needs at least {ctx.get('min_length', '?')} {_unit(kind)}"
    elif kind in ("too_long", "string_too_long"):
        text = f"takes at most {ctx.get('max_length', '?')} {_unit(kind)}"
    elif kind.endswith(("_parsing", "_type")) and kind.split("_")[0] in _KINDS:
        text = f"must be {_KINDS[kind.split('_')[0]]}, got {_kind_of(error.get('input'))}"
    else:
        text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{text} ({advice})" if advice else text


def _unit(kind: str) -> str:
    return "characters" if kind.startswith("string") else "items"


def _kind_of(value: Any) -> str:
    """The JSON kind of what was sent; never the value (messages reach the logs too)."""
    if value is None:
        return "null"
    kinds = (
        (bool, "a boolean"),
        ((int, float), "a number"),
        (str, "a string"),
        (dict, "an object"),
    )
    return next((name for t, name in kinds if isinstance(value, t)), "a list")
