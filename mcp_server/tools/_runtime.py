"""How a module-level function becomes an MCP tool: its marker, the shared data arguments,
telemetry, error translation and progress.

A tool is a plain `async def` in `tools/<toolset>.py`, marked with `@tool(...)`
and taking `ctx: Context` (the SDK injects it; `app(ctx)` is the `AppContext`).
A parameter annotated with one of the argument models (`DataSpec`: which candles;
`StrategySpec`: what to run; `SearchSpec`: what to optimise) is shown to the client
as the model's flat fields, defined once, and reaches the function as one
validated model: schemas stay flat and easy to fill, and no tool repeats them.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Annotated, Any, TypeVar, cast

import anyio
from mcp.server.apps import Apps, Visibility
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, ContentBlock, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from mcp_server.candles import DataSpec
from mcp_server.context import AppContext
from mcp_server.errors import describe, lookup
from mcp_server.numbers import round_json
from mcp_server.tools._args import SearchSpec, StrategySpec
from mcp_server.tools._schema import compact_input, compact_output, refer_listed_enums
from mcp_server.tools._ticket import widen_output
from mcp_server.validation import argument_errors

__all__ = [
    "READ_ONLY",
    "READ_ONLY_OPEN",
    "WRITES_STORE",
    "app",
    "bind_views",
    "marked_tools",
    "progress",
    "register",
    "tool",
    "tool_result",
]

log = logging.getLogger("mcp_server.tools")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
_CONFIG_HOME = "run_backtest"  # the one tool schema that spells out the execution config
_FLAT: tuple[type[BaseModel], ...] = (DataSpec, StrategySpec, SearchSpec)

# The MCP spec gives idempotentHint and destructiveHint meaning only for tools that are not
# read-only: a read-only tool leaves them out (bytes every session's tools/list pays).
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
READ_ONLY_OPEN = ToolAnnotations(read_only_hint=True, open_world_hint=True)
WRITES_STORE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)


@dataclass(frozen=True)
class ToolMark:
    """What `@tool` records on a function for `register`."""

    name: str
    title: str
    annotations: ToolAnnotations
    view: str | None = None  # the ui:// resource an MCP Apps host renders the result with
    visibility: tuple[Visibility, ...] | None = None  # ("app",): only views may call it


def tool(
    title: str,
    annotations: ToolAnnotations,
    *,
    name: str | None = None,
    view: str | None = None,
    visibility: tuple[Visibility, ...] | None = None,
) -> Callable[[F], F]:
    """Mark a module-level function as an MCP tool (registered by its toolset); `view`
    and `visibility` bind it to an MCP Apps view (see `bind_views`)."""

    def mark(fn: F) -> F:
        fn.__mcp_tool__ = ToolMark(name or fn.__name__, title, annotations, view, visibility)  # type: ignore[attr-defined]
        return fn

    return mark


def app(ctx: Context) -> AppContext:
    """The `AppContext` the server's lifespan built."""
    return cast(AppContext, ctx.request_context.lifespan_context)


def marked_tools(module: ModuleType) -> list[tuple[Callable[..., Awaitable[Any]], ToolMark]]:
    """The `@tool` functions of `module` with their marks, in source order."""
    found = ((fn, getattr(fn, "__mcp_tool__", None)) for fn in vars(module).values())
    return [(fn, mark) for fn, mark in found if isinstance(mark, ToolMark)]


def bind_views(apps: Apps, modules: list[ModuleType]) -> None:
    """Hand the tools of `modules` that have a view to the MCP Apps extension, which adds
    them (with `_meta.ui`) when the server is built: extensions are applied only then."""
    for fn, mark in (found for module in modules for found in marked_tools(module)):
        if mark.view is not None:
            apps.tool(
                resource_uri=mark.view, visibility=mark.visibility, name=mark.name,
                title=mark.title or None, description=inspect.cleandoc(fn.__doc__ or ""),
                annotations=mark.annotations,
            )(_instrumented(fn, mark.name))  # fmt: skip


def register(server: MCPServer[Any], modules: list[ModuleType]) -> None:
    """Add every `@tool` function of `modules` to `server` (those with a view came with the
    Apps extension: see `bind_views`), listed in the modules' order."""
    found = [pair for module in modules for pair in marked_tools(module)]
    for fn, mark in found:
        if mark.view is None:
            server.add_tool(
                _instrumented(fn, mark.name), name=mark.name, title=mark.title,
                description=inspect.cleandoc(fn.__doc__ or ""), annotations=mark.annotations,
            )  # fmt: skip
        elif server._tool_manager.get_tool(mark.name) is None:
            raise RuntimeError(f"{mark.name} has a view: bind_views(apps, ...) before MCPServer(...)")
    names = [mark.name for _, mark in found]
    _in_order(server, names)
    for name in names:
        _compact_schemas(server, name)
        _readable_argument_errors(server, name)


def _in_order(server: MCPServer[Any], names: list[str]) -> None:
    """List the tools in `names` order: the extension's tools were added first, but the
    model reads the list top down, and a shared argument is described in its first tool."""
    tools = server._tool_manager._tools  # the SDK has no public hook for the order
    ordered = {n: tools[n] for n in names if n in tools}
    server._tool_manager._tools = ordered | {n: t for n, t in tools.items() if n not in ordered}


def _compact_schemas(server: MCPServer[Any], name: str) -> None:
    """Publish the tool's schemas compacted (see `_schema`); arguments are still validated
    by the SDK's model, results by the client against the compacted output schema."""
    info = server._tool_manager.get_tool(name)  # the SDK has no public hook for this
    if info is None:
        return
    info.parameters = compact_input(info.parameters, primary=name == _CONFIG_HOME)
    _drop_told(info.parameters, _told(server, name))
    refer_listed_enums(info.parameters, _listed_enums(server, name))
    meta = info.fn_metadata
    if meta.output_schema is not None:
        meta.output_schema = compact_output(meta.output_schema)
        if "wait" in info.parameters.get("properties", {}):  # a long tool: it may answer a ticket
            widen_output(meta)


def _readable_argument_errors(server: MCPServer[Any], name: str) -> None:
    """Arguments the SDK rejects are reported one line per field (see `validation`), not
    as pydantic's dump with URLs; the SDK checks them before our wrapper runs, and has no
    hook for the text, so the tool's `run` is wrapped."""
    info = server._tool_manager.get_tool(name)
    if info is None:
        return
    run = info.run

    async def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return await run(*args, **kwargs)
        except ToolError as exc:
            if isinstance(exc, UnexpectedToolError) or not isinstance(exc.__cause__, ValidationError):
                raise  # a crash (e.g. a result failing its schema) stays one
            lines = argument_errors(exc.__cause__)
            raise ToolError(f"Error executing tool {name}: invalid arguments\n{lines}") from None

    object.__setattr__(info, "run", checked)  # a pydantic model: no plain attribute setting


def _told(server: MCPServer[Any], name: str) -> set[tuple[str, str]]:
    """(argument, description) pairs already in the schemas of tools listed before `name`."""
    told: set[tuple[str, str]] = set()
    for other in server._tool_manager.list_tools():
        if other.name == name:
            break
        for arg, spec in other.parameters.get("properties", {}).items():
            if isinstance(spec, dict) and isinstance(spec.get("description"), str):
                told.add((arg, spec["description"]))
    return told


def _listed_enums(server: MCPServer[Any], name: str) -> dict[tuple[str, str], str]:
    """(argument, its enum as JSON) -> the first tool listed before `name` that spells it."""
    homes: dict[tuple[str, str], str] = {}
    for other in server._tool_manager.list_tools():
        if other.name == name:
            break
        for arg, spec in other.parameters.get("properties", {}).items():
            if isinstance(spec, dict) and "enum" in spec:
                homes.setdefault((arg, json.dumps(spec["enum"])), other.name)
    return homes


def _drop_told(schema: dict[str, Any], told: set[tuple[str, str]]) -> None:
    """A shared argument (source, bars, objective...) is described once, in the first tool
    of the list that has it: the model reads the whole list, and the repeats cost a third
    of its bytes."""
    for arg, spec in schema.get("properties", {}).items():
        if isinstance(spec, dict) and (arg, spec.get("description")) in told:
            del spec["description"]


def _instrumented(fn: Callable[..., Awaitable[Any]], name: str) -> Callable[..., Awaitable[Any]]:
    """`fn` with flat data arguments, telemetry, and domain errors as ToolErrors with a fix.

    Unknown exceptions are re-raised: the SDK reports them as an internal error
    (without details) and logs the traceback, which is what a bug deserves.
    """
    sig = inspect.signature(fn, eval_str=True)
    flat = {p.name: p.annotation for p in sig.parameters.values() if p.annotation in _FLAT}

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        ctx: Context = kwargs["ctx"]
        telemetry = app(ctx).telemetry
        started = time.perf_counter()
        outcome = "ok"
        try:
            for param, model in flat.items():
                fields = {k: kwargs.pop(k) for k in model.model_fields if k in kwargs}
                kwargs[param] = model(**fields)
            return _as_result(await fn(*args, **kwargs))
        except anyio.get_cancelled_exc_class():
            outcome = "cancelled"
            raise
        except ToolError:
            outcome = "tool_error"
            raise
        except Exception as exc:
            if lookup(exc) is None:
                outcome = "crash"
                log.exception("tool %s crashed", name)
                raise
            outcome = "tool_error"
            message = describe(exc)
            log.info("tool %s: %s", name, message)
            raise ToolError(message) from None
        finally:
            telemetry.tool_calls.labels(name, outcome).inc()
            telemetry.tool_latency.labels(name).observe(time.perf_counter() - started)

    public = _flat_signature(sig, flat)
    call.__signature__ = public  # type: ignore[attr-defined]
    call.__annotations__ = {p.name: p.annotation for p in public.parameters.values()} | {
        "return": sig.return_annotation
    }
    return call


def tool_result(
    body: dict[str, Any], *blocks: ContentBlock, tick: float | None = None
) -> CallToolResult:
    """A structured result with numbers rounded to what they mean, and its text block: the
    same JSON, compact and without nulls (what the model reads), then any extra blocks."""
    body = round_json(body, tick=tick)
    text = json.dumps(_without_nulls(body), separators=(",", ":"), ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(type="text", text=text), *blocks], structured_content=body
    )


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _as_result(value: Any) -> Any:
    """A model returned by a tool as `tool_result` (the SDK would pretty-print it)."""
    if isinstance(value, BaseModel) and not isinstance(value, CallToolResult):
        return tool_result(value.model_dump(mode="json"))
    return value


def _flat_signature(sig: inspect.Signature, flat: dict[str, type[BaseModel]]) -> inspect.Signature:
    """`sig` with each argument-model parameter replaced by the model's fields."""
    params = []
    for p in sig.parameters.values():
        model = flat.get(p.name)
        if model is None:
            params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            continue
        params.extend(
            inspect.Parameter(
                n, inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if f.is_required() else f.default,
                annotation=Annotated[f.annotation, *f.metadata, Field(description=f.description)],
            )
            for n, f in model.model_fields.items()
        )
    return sig.replace(parameters=params)


async def progress(ctx: Context | None, done: float, total: float, message: str) -> None:
    """Report progress when the client asked for it; never fail the tool because of it."""
    if ctx is None:
        return
    try:
        await ctx.report_progress(done, total, message=message)
    except Exception:  # a closed transport must not turn a result into an error
        log.debug("progress report failed", exc_info=True)
