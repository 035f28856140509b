"""Option groups: options several commands share, declared once and handed over as one value.

A command parameter annotated with a group's type (e.g. `DataSpec`) is replaced by
the group's options in the command's signature (Typer reads the signature); when
the command runs, the options are gathered and built into that value inside the
error handler, so a bad value prints one line, never a traceback.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import typer

from mcp_server.cli._errors import cli_errors

__all__ = ["Option", "OptionGroup", "with_groups"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Option:
    """One command-line option: its parameter name, type, default, help and flags."""

    name: str
    kind: Any
    default: Any
    help: str
    flags: tuple[str, ...] = ()

    def parameter(self) -> inspect.Parameter:
        info = typer.Option(*self.flags, help=self.help)
        return inspect.Parameter(
            self.name, inspect.Parameter.KEYWORD_ONLY, default=self.default,
            annotation=Annotated[self.kind, info],
        )  # fmt: skip


@dataclass(frozen=True)
class OptionGroup:
    """Options that together build one value of type `type_`."""

    type_: type
    options: tuple[Option, ...]
    build: Callable[[dict[str, Any]], Any]


def with_groups(*groups: OptionGroup) -> Callable[[F], F]:
    """Replace each parameter annotated with a group's type by the group's options."""

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        by_type = {g.type_: g for g in groups}
        params: list[inspect.Parameter] = []
        used: dict[str, OptionGroup] = {}
        for p in sig.parameters.values():
            group = by_type.get(p.annotation)
            if group is None:
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            else:
                used[p.name] = group
                params.extend(o.parameter() for o in group.options)

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            values = {
                name: {o.name: kwargs.pop(o.name) for o in group.options} for name, group in used.items()
            }
            with cli_errors():
                built = {name: used[name].build(v) for name, v in values.items()}
            return fn(**kwargs, **built)

        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command  # type: ignore[return-value]

    return decorate
