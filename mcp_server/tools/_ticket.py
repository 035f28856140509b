"""The `wait` argument of the long tools and the ticket they answer with `wait=false`
(apart from `_jobwait`, so the runtime can widen those tools' result schema)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

__all__ = ["JobTicket", "Wait", "widen_output"]

Wait = Annotated[
    bool,
    Field(
        description="false: start it as a job and return its id at once (follow: get_job, job://{id})"
    ),
]


class JobTicket(BaseModel):
    """What a long tool answers with `wait=false`: the job to follow."""

    job_id: str
    state: str
    hint: str


def widen_output(meta: Any, schema: dict[str, Any], ticket_schema: dict[str, Any]) -> None:
    """Let a tool with a `wait` argument answer with its usual result or a `JobTicket`:
    the SDK validates the result against `meta.output_model`, the client against the
    published schema."""
    meta.output_model = meta.output_model | JobTicket
    body = {k: v for k, v in schema.items() if k != "type"}
    meta.output_schema = {"type": "object", "anyOf": [body, ticket_schema]}
