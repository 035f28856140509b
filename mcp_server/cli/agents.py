"""`bybit-tester ask` and `bybit-tester router status`: the MCPRouter from the command line.

Configuration comes from the environment via `mcp_server.settings`. The CLI
keeps recorded responses (record/replay/offline modes) and a small state file
(cumulative cost, last breaker states) in ROUTER_CACHE_DIR, so `router status`
can report cost so far across invocations.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from agents import (
    AgentResult,
    AgentsError,
    ConfigError,
    FatalRequestError,
    FileCache,
    InvalidTaskError,
    MCPRouter,
    ReplayMissError,
    RouterConfig,
    RouterStatus,
    TaskKind,
)
from mcp_server.cli._app import app
from mcp_server.settings import RouterSettings

router_app = typer.Typer(help="Inspect the AI agent router.", no_args_is_help=True)
app.add_typer(router_app, name="router")

_AGENT_CHOICES = ("auto", "deepseek", "perplexity", "local")
# Kinds whose input is one text field: the question goes there.
_TEXT_FIELD = {
    TaskKind.ASK: "question",
    TaskKind.INDICATOR_RESEARCH: "indicator",
    TaskKind.EXPLAIN_METRIC: "metric",
    TaskKind.CODE_REVIEW: "code",
    TaskKind.TEST_SCENARIOS: "strategy",
}
_METRICS_KINDS = {TaskKind.ANALYZE_BACKTEST, TaskKind.RISK_ADVICE}
_STATE_FILE = "router_state.json"


def _fail(message: str, code: int = 2) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _load_settings() -> tuple[RouterSettings, RouterConfig]:
    try:
        settings = RouterSettings()
        return settings, settings.to_router_config()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "environment"
        raise _fail(f"{name}: {first['msg']}") from None
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _task_input(kind: TaskKind, question: str) -> dict[str, Any]:
    """QUESTION as the task input: a JSON object, a file (JSON or code), or text for text kinds."""
    text = question
    path = Path(question)
    if len(question) < 4096 and "\n" not in question and path.is_file():
        text = path.read_text(encoding="utf-8")
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise _fail(
                f"QUESTION looks like JSON but does not parse: {exc.msg} (line {exc.lineno})"
            ) from None
        if kind in _METRICS_KINDS and "metrics" not in data:
            data = {"metrics": data}  # a bare engine metrics mapping
        return dict(data)
    field = _TEXT_FIELD.get(kind)
    if field is None:
        raise _fail(
            f"task {kind.value} needs JSON input (or a .json file), e.g. "
            f'\'{{"metrics": {{"sharpe": 1.2, "n_trades": 40}}}}\''
        )
    return {field: text}


def _state_path(settings: RouterSettings) -> Path:
    return settings.cache_dir() / _STATE_FILE


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def _save_state(path: Path, status: RouterStatus) -> None:
    """Add this run's counters to the cumulative state; remember the last breaker states."""
    state = _read_state(path)
    totals: dict[str, dict[str, float]] = state.get("agents", {})
    for agent in status.agents:
        row = totals.setdefault(
            agent.name, {"calls": 0, "failures": 0, "answers": 0, "cost_usd": 0.0}
        )
        for key in ("calls", "failures", "answers", "cost_usd"):
            row[key] = row.get(key, 0) + getattr(agent, key)
    state["agents"] = totals
    state["requests"] = state.get("requests", 0) + status.requests
    state["breakers"] = {
        a.name: {"state": a.breaker, "reason": a.breaker_reason} for a in status.agents
    }
    state["updated"] = time.time()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state, indent=1), encoding="utf-8")
    except OSError:
        pass  # state is a convenience; never fail the answer because of it


def _print_result(result: AgentResult) -> None:
    console = Console()
    console.print(result.text, highlight=False, markup=False)
    if result.sources:
        console.print("\nSources:")
        for source in result.sources:
            console.print(
                f"  - {source.title or source.url}: {source.url}", highlight=False, markup=False
            )
    trail = " -> ".join(f"{a.agent}:{a.error_class or a.outcome}" for a in result.attempts)
    note = " [yellow](degraded: remote agents unavailable)[/yellow]" if result.degraded else ""
    Console(stderr=True).print(
        f"[dim]agent={result.agent} model={result.model} cost=${result.cost_usd:.6f} "
        f"cached={result.cached} trail: {trail}[/dim]{note}",
        highlight=False,
    )


@app.command("ask")
def ask(
    question: str = typer.Argument(
        ..., help="The question; for structured tasks a JSON object or a .json/.py file."
    ),
    task: str = typer.Option(
        "ask", "--task", help="Task kind: " + ", ".join(k.value for k in TaskKind)
    ),
    agent: str = typer.Option("auto", "--agent", help="auto | deepseek | perplexity | local"),
    as_json: bool = typer.Option(False, "--json", help="Print the full AgentResult as JSON."),
) -> None:
    """Ask the AI agents (DeepSeek, Perplexity, or the offline analyst when no key is set)."""
    try:
        kind = TaskKind(task.strip().lower())
    except ValueError:
        raise _fail(
            f"unknown --task {task!r}; choose one of: {', '.join(k.value for k in TaskKind)}"
        ) from None
    if agent not in _AGENT_CHOICES:
        raise _fail(f"unknown --agent {agent!r}; choose one of: {', '.join(_AGENT_CHOICES)}")
    if not question.strip():
        raise _fail("QUESTION is empty")
    settings, config = _load_settings()
    data = _task_input(kind, question)

    async def run() -> tuple[AgentResult, RouterStatus]:
        async with MCPRouter(config, cache=FileCache(settings.cache_dir() / "responses")) as router:
            result = await router.run(kind, data, agent=agent)
            return result, router.status()

    try:
        result, status = asyncio.run(run())
    except InvalidTaskError as exc:
        raise _fail(str(exc)) from None
    except (FatalRequestError, ReplayMissError) as exc:
        raise _fail(str(exc), code=1) from None
    except AgentsError as exc:
        raise _fail(f"{type(exc).__name__}: {exc}", code=1) from None
    _save_state(_state_path(settings), status)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        _print_result(result)


def _status_rows(config: RouterConfig, state: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per agent: configuration, last breaker state, cumulative counters."""
    totals, breakers = state.get("agents", {}), state.get("breakers", {})
    agents = (
        ("deepseek", config.deepseek.configured, config.deepseek.model, config.deepseek.base_url),
        ("perplexity", config.perplexity.configured, config.perplexity.model, config.perplexity.base_url),
        ("local", True, "local-analyst-1", "-"),
    )  # fmt: skip
    rows = []
    for name, configured, model, base in agents:
        t = totals.get(name, {})
        b = breakers.get(name, {"state": "closed", "reason": None})
        rows.append({
            "agent": name, "configured": configured, "model": model, "base_url": base,
            "breaker": b.get("state"), "breaker_reason": b.get("reason"),
            "calls": int(t.get("calls", 0)), "failures": int(t.get("failures", 0)),
            "answers": int(t.get("answers", 0)), "cost_usd": float(t.get("cost_usd", 0.0)),
        })  # fmt: skip
    return rows


def _status_table(mode: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"MCPRouter (mode: {mode})")
    for col in ("agent", "configured", "model", "breaker (last run)", "calls", "failures",
                "answers", "cost so far"):  # fmt: skip
        table.add_column(col)
    for r in rows:
        breaker = r["breaker"] + (f" ({r['breaker_reason']})" if r["breaker_reason"] else "")
        table.add_row(
            r["agent"], "yes" if r["configured"] else "no key", r["model"], breaker,
            str(r["calls"]), str(r["failures"]), str(r["answers"]), f"${r['cost_usd']:.6f}",
        )  # fmt: skip
    return table


@router_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Agents (configured or not), their breakers as last seen, and cost so far."""
    settings, config = _load_settings()
    state = _read_state(_state_path(settings))
    rows = _status_rows(config, state)
    total = sum(r["cost_usd"] for r in rows)
    routing = {k.value: list(v) for k, v in config.routing.items()}
    requests = state.get("requests", 0)
    if as_json:
        body = {"mode": config.mode.value, "agents": rows, "total_cost_usd": total,
                "requests": requests, "routing": routing}  # fmt: skip
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return
    console = Console()
    console.print(_status_table(config.mode.value, rows))
    console.print(f"total cost so far: ${total:.6f} over {requests} request(s)")
    for kind, chain in routing.items():
        console.print(f"  {kind}: {' -> '.join(chain)}", highlight=False)
