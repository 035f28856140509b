"""The `local` agent: the offline analyst behind the same interface as remote agents."""

from __future__ import annotations

from agents.analyst import analyze
from agents.providers.base import ProviderResponse
from agents.render import render_output
from agents.tasks import TaskInput, TaskKind

__all__ = ["LOCAL_MODEL", "LocalAgent"]

LOCAL_MODEL = "local-analyst-1"


class LocalAgent:
    """Deterministic rule-based answers; never fails on valid input, never touches the network."""

    name = "local"

    def answer(self, kind: TaskKind, task: TaskInput) -> ProviderResponse:
        """The analyst's structured output and its text rendering."""
        output = analyze(kind, task).model_dump()
        return ProviderResponse(text=render_output(kind, output), output=output, model=LOCAL_MODEL)
