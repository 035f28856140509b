"""What every provider adapter provides, and the shared response parsing.

An adapter turns a typed task into its own payload (`prepare`) and sends it
(`send`). The split lets the router hash the exact payload for the response
cache before anything goes over the wire, and lets a fallback agent build its
own payload instead of replaying one the other provider would reject.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, Field, ValidationError

from agents.errors import BadResponseError
from agents.outputs import TASK_OUTPUTS
from agents.result import Source, Usage
from agents.tasks import TaskInput, TaskKind

__all__ = [
    "CallOptions",
    "PreparedCall",
    "ProviderResponse",
    "RemoteProvider",
    "parse_structured",
]


@dataclass(frozen=True)
class CallOptions:
    """Per-request knobs a caller may set."""

    thinking: bool | None = None  # None = the provider's configured default for the kind
    max_tokens: int | None = None


@dataclass(frozen=True)
class PreparedCall:
    """A provider payload ready to send; `payload` is exactly what goes over the wire."""

    provider: str
    model: str
    kind: TaskKind
    endpoint: str
    payload: dict[str, Any]
    structured: bool
    extra: dict[str, Any] = field(default_factory=dict)


class ProviderResponse(BaseModel):
    """A provider's answer, normalised; also the unit stored in the response cache."""

    text: str
    output: dict[str, Any] | None = None
    sources: list[Source] = Field(default_factory=list)
    model: str
    usage: Usage = Field(default_factory=Usage)
    reasoning: str | None = None


class RemoteProvider(Protocol):
    """A remote agent adapter (DeepSeek, Perplexity)."""

    name: str

    @property
    def configured(self) -> bool:
        """True when the adapter has what it needs (a key) to be called."""
        ...

    def prepare(self, kind: TaskKind, task: TaskInput, options: CallOptions) -> PreparedCall:
        """Build the payload for `task`."""
        ...

    async def send(self, call: PreparedCall) -> ProviderResponse:
        """Send a prepared call; raise a ProviderError subclass on failure."""
        ...

    async def aclose(self) -> None:
        """Release network resources."""
        ...


def _strip_fences(text: str) -> str:
    # Models sometimes wrap JSON in ``` fences even in JSON mode.
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped.strip()


def parse_structured(agent: str, kind: TaskKind, text: str) -> dict[str, Any]:
    """Parse and validate a JSON answer for `kind`; BadResponseError (retryable) if unusable."""
    body = _strip_fences(text)
    if not body:
        # DeepSeek JSON mode replaces non-JSON output with whitespace: blank is a retryable miss.
        raise BadResponseError("blank content in JSON mode", agent=agent, reason="blank")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadResponseError(
            f"invalid JSON from {agent}: {exc.msg} at char {exc.pos}",
            agent=agent,
            reason="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise BadResponseError(
            f"expected a JSON object from {agent}, got {type(data).__name__}",
            agent=agent,
            reason="invalid_json",
        )
    try:
        return TASK_OUTPUTS[kind].model_validate(data).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise BadResponseError(
            f"JSON from {agent} does not match the {kind.value} schema: {where}: {first['msg']}",
            agent=agent,
            reason="invalid_json",
        ) from None
