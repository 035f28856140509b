"""One default per argument on every surface: MCP tools, CLI commands, REST and prompts."""

from __future__ import annotations

from typing import Any

import typer.main
from mcp import Client
from mcp.server.mcpserver import MCPServer
from typer.testing import CliRunner

from mcp_server import __version__
from mcp_server.candles import DEFAULT_BARS, DEFAULT_INTERVAL, DEFAULT_SEED, DEFAULT_SYMBOL
from mcp_server.cli import app
from mcp_server.http import BacktestRequest

DEFAULTS: dict[str, Any] = {
    "symbol": DEFAULT_SYMBOL,
    "interval": DEFAULT_INTERVAL,
    "bars": DEFAULT_BARS,
    "seed": DEFAULT_SEED,
    "category": "linear",
}


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf command of a Typer app by its full name (typer vendors its own click)."""
    out: dict[str, Any] = {}
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            out.update(_commands(cmd, f"{prefix}{name} "))
        else:
            out[prefix + name] = cmd
    return out


async def test_every_tool_argument_shares_the_default(server: MCPServer[Any]) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    seen = 0
    for t in tools:
        props = t.input_schema.get("properties", {})
        for arg, want in DEFAULTS.items():
            if arg in props and "default" in props[arg]:
                assert props[arg]["default"] == want, (t.name, arg)
                seen += 1
    assert seen >= 30  # the data arguments of ten tools, and the market tools' own


def test_every_cli_option_shares_the_default() -> None:
    commands = _commands(typer.main.get_command(app))
    seen = 0
    for name, cmd in commands.items():
        for param in cmd.params:
            if param.name in DEFAULTS and param.default is not None:
                assert param.default == DEFAULTS[param.name], (name, param.name)
                seen += 1
    assert {"backtest", "demo", "optimize grid", "data fetch", "data export"} <= set(commands)
    assert seen >= 15


def test_rest_and_prompt_defaults() -> None:
    body = BacktestRequest()
    assert {k: getattr(body, k) for k in DEFAULTS} == DEFAULTS
    from mcp_server.prompts import research_strategy

    assert f"{DEFAULT_SYMBOL} {DEFAULT_INTERVAL}" in research_strategy("trend")


def test_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"bybit-tester {__version__}"
    assert __version__ != "0.0.0"  # read from the installed distribution
