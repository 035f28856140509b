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


def widen_output(meta: Any) -> None:
    """Let a tool with a `wait` argument answer with its usual result or a `JobTicket`.
    The SDK validates a result against `meta.output_model`: widened here. The client
    validates it against the published schema, which needs no change: compacted, it
    requires no field, so a ticket passes; the `wait` description gives its shape (the
    ticket's own schema in every long tool would cost tools/list bytes for nothing)."""
    meta.output_model = meta.output_model | JobTicket
