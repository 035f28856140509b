"""`bybit-tester jobs list|show|watch|cancel`, and `submit_async` for `--async` flags.

Jobs outlive the command only with a broker (BST_BROKER_URL): without one they run
inside the process that submitted them (the MCP or HTTP server), so these commands
need a broker to see anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mcp_server.cli._app import app
from mcp_server.cli._errors import cli_errors, error_line

__all__ = ["jobs_app", "search_spec_of", "service", "submit_async"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

jobs_app = typer.Typer(help="Jobs on workers: list, show, watch, cancel.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


def service() -> Any:
    """The JobService of this environment's settings (a broker is required)."""
    from mcp_server.jobs import JobService, job_event_bus
    from mcp_server.settings import Settings

    settings = Settings()
    if settings.jobs.embedded:
        error_line("BST_BROKER_URL is not set: without a broker, jobs live inside the server that "
                   "runs them; set BST_BROKER_URL=redis://127.0.0.1:6379/0 and start "
                   "`bybit-tester worker`", err)  # fmt: skip
        raise typer.Exit(2)
    return JobService(settings, job_event_bus(settings))


def search_spec_of(search: Any) -> Any:
    """The CLI's search options as the SearchSpec every surface submits."""
    from engine import ParamRange
    from mcp_server.tools._args import SearchSpec

    params: dict[str, Any] = {}
    for name, dom in search.space.domains.items():
        if isinstance(dom, ParamRange):
            params[name] = f"{dom.low}:{dom.high}" + (
                f":{dom.step}" if dom.step is not None else ""
            )
        else:
            params[name] = [float(v) for v in dom]
    return SearchSpec.model_validate({
        "params": params, "strategy": search.space.strategy.name,
        "constraints": [c.text for c in search.space.constraints] or None,
        "objective": search.objective, "min_trades": search.min_trades, "config": search.config,
    })  # fmt: skip


def submit_async(submit: Callable[[Any], Any]) -> None:
    """Submit through `submit(service)`, print the job id (stdout) and how to follow it."""
    with cli_errors(err):
        jobs = service()
        record = submit(jobs)
    out.print(record.id)
    err.print(f"queued {record.kind} job {record.id} ({record.chunks} task(s)); follow it with "
              f"`bybit-tester jobs watch {record.id}`")  # fmt: skip


def _row(record: Any) -> list[str]:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(record.created))
    return [
        record.id,
        record.kind,
        record.state,
        f"{record.done}/{record.total}",
        when,
        record.error or "",
    ]


@jobs_app.command("list")
def list_cmd(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Newest jobs to show")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False,
) -> None:
    """The newest jobs with their state and progress."""
    with cli_errors(err):
        records = service().recent(limit)
    if as_json:
        out.print_json(
            json.dumps({"jobs": [r.model_dump(mode="json", exclude={"request"}) for r in records]})
        )
        return
    table = Table("id", "kind", "state", "done", "created (UTC)", "error")
    for record in records:
        table.add_row(*_row(record))
    out.print(table)


@jobs_app.command("show")
def show_cmd(
    job_id: str, result: Annotated[bool, typer.Option("--result", help="Print the result")] = False
) -> None:
    """One job (and its result with --result) as JSON."""
    with cli_errors(err):
        jobs = service()
        body: dict[str, Any] = jobs.get(job_id).model_dump(mode="json")
        if result:
            body["result"] = jobs.result(job_id)
    out.print_json(json.dumps(body))


@jobs_app.command("cancel")
def cancel_cmd(job_id: str) -> None:
    """Cancel a job: running tasks stop at their next progress step, queued ones never run."""
    with cli_errors(err):
        record = service().cancel(job_id)
    err.print(f"job {job_id}: {record.state}")


@jobs_app.command("watch")
def watch_cmd(job_id: str) -> None:
    """A progress bar from the job's event stream until it ends (exit 1 unless it succeeded)."""
    with cli_errors(err):
        jobs = service()
        record = jobs.get(job_id)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        after, final = "0", record.state
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task(f"{record.kind} {job_id[:12]}", total=max(record.total, 1))
            while True:
                for event in jobs.events(job_id, after, block_s=2.0):
                    after = event.id
                    if event.kind == "progress":
                        bar.update(task, completed=event.data.get("done", 0))
                    if event.terminal:
                        final = event.kind
                if final in ("succeeded", "failed", "cancelled"):
                    break
                final = jobs.get(job_id).state  # events trimmed away: the record still knows
            if final == "succeeded":
                bar.update(task, completed=max(record.total, 1))
    err.print(f"job {job_id}: {final}")
    if final != "succeeded":
        raise typer.Exit(1)
