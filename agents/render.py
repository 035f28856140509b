"""Plain-text rendering of structured outputs (the `text` of an AgentResult)."""

from __future__ import annotations

from typing import Any

from agents.outputs import TASK_OUTPUTS
from agents.tasks import TaskKind

__all__ = ["render_output"]


def _line(item: Any) -> str:
    if isinstance(item, dict):
        if "message" in item:
            sev = item.get("severity")
            where = f" (line {item['line']})" if item.get("line") else ""
            return f"[{sev}] {item.get('rule') or item.get('code')}{where}: {item['message']}"
        if "rank" in item:
            return f"#{item['rank']} {item['name']} (score {item['score']:.2f}): {'; '.join(item.get('reasons', []))}"
        if "parameters" in item:
            return f"{item['name']}: {item['description']} params={item['parameters']}"
        return ", ".join(f"{k}={v}" for k, v in item.items())
    return str(item)


def render_output(kind: TaskKind, output: dict[str, Any]) -> str:
    """A readable multi-line text of a structured output."""
    model = TASK_OUTPUTS[kind]
    lines: list[str] = []
    if kind is TaskKind.ASK:
        return str(output.get("answer") or output.get("summary") or "")
    if output.get("summary"):
        lines.append(str(output["summary"]))
    for name in model.model_fields:
        if name == "summary":
            continue
        value = output.get(name)
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list):
            lines.append(f"{name.replace('_', ' ')}:")
            lines.extend(f"  - {_line(v)}" for v in value)
        elif isinstance(value, dict):
            lines.append(
                f"{name.replace('_', ' ')}: " + ", ".join(f"{k}={v}" for k, v in value.items())
            )
        else:
            lines.append(f"{name.replace('_', ' ')}: {value}")
    return "\n".join(lines)
