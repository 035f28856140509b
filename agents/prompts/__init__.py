"""Render chat messages for a task: system prompt, instruction, input, prior context."""

from __future__ import annotations

import json

from agents.analyst.metrics_doc import METRICS
from agents.prompts.templates import EXAMPLES, INSTRUCTIONS, SYSTEM
from agents.result import mark_untrusted
from agents.tasks import ExplainMetricInput, TaskInput, TaskKind

__all__ = ["render_messages", "render_system", "render_user"]


def render_system(kind: TaskKind, structured: bool) -> str:
    """System prompt; asks for one JSON object (with an example) when `structured`."""
    if not structured:
        return SYSTEM
    return (
        f"{SYSTEM}\n\nReply with a single json object and nothing else, shaped like this "
        f"example:\n{EXAMPLES[kind]}"
    )


def render_user(kind: TaskKind, task: TaskInput) -> str:
    """User message: the instruction, the task's fields as JSON, earlier outputs as untrusted blocks."""
    fields = task.model_dump(exclude={"context"}, exclude_none=True)
    parts = [INSTRUCTIONS[kind]]
    if kind is TaskKind.ASK and "question" in fields:
        parts.append(str(fields.pop("question")))
    if isinstance(task, ExplainMetricInput) and task.metric in METRICS:
        doc = METRICS[task.metric]
        parts.append(
            f"Engine definition of {task.metric}: {doc.formula}. {doc.meaning} "
            f"Good: {doc.good}. Bad: {doc.bad}."
        )
    if fields:
        parts.append("Input:\n" + json.dumps(fields, indent=1, sort_keys=True, default=str))
    for item in task.context:
        text = mark_untrusted(item.text, source=item.agent) if item.untrusted else item.text
        parts.append(f"Output of earlier step {item.step!r}:\n{text}")
    return "\n\n".join(parts)


def render_messages(kind: TaskKind, task: TaskInput, structured: bool) -> list[dict[str, str]]:
    """OpenAI-style messages for `task`."""
    return [
        {"role": "system", "content": render_system(kind, structured)},
        {"role": "user", "content": render_user(kind, task)},
    ]
