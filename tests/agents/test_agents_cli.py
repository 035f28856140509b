"""`bybit-tester ask` and `router status`: offline, against the fake server, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agents_testkit import GOOD_METRICS
from servers_testkit import ProviderServer
from typer.testing import CliRunner

from agents.fake_providers import FakeProviders, Fault
from mcp_server.cli import app
from mcp_server.settings import router_config_from_env

ENV_NAMES = [
    "DEEPSEEK_API_KEY",
    "PERPLEXITY_API_KEY",
    "DEEPSEEK_BASE_URL",
    "PERPLEXITY_BASE_URL",
    "DEEPSEEK_MODEL",
    "PERPLEXITY_MODEL",
    "ROUTER_MODE",
    "ROUTER_ROUTING",
]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("ROUTER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_ask_offline_without_keys(cli_env: Path) -> None:
    code, out, err = invoke("ask", "what is the ulcer index?")
    assert code == 0 and "ulcer_index" in out and "agent=local" in err


def test_ask_structured_task_from_a_json_file_as_json(cli_env: Path) -> None:
    path = cli_env / "metrics.json"
    path.write_text(json.dumps(GOOD_METRICS))
    code, out, _ = invoke("ask", str(path), "--task", "analyze_backtest", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["agent"] == "local" and data["output"]["verdict"] == "promising"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "x", "--task", "predict"], "unknown --task"),
        (["ask", "x", "--agent", "gpt4"], "unknown --agent"),
        (["ask", "hello", "--task", "compare_strategies"], "needs JSON input"),
        (["ask", "{not json", "--task", "analyze_backtest"], "does not parse"),
        (["ask", '{"strategies": []}', "--task", "compare_strategies"], "strategies"),
        (["ask", "  "], "empty"),
    ],
)
def test_bad_input_exits_2_with_a_message(cli_env: Path, args: list[str], message: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2 and message in err and "Traceback" not in out + err


def test_bad_env_exits_2(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_MODE", "sometimes")
    code, _, err = invoke("ask", "x")
    assert code == 2 and "ROUTER_MODE" in err
    monkeypatch.setenv("ROUTER_MODE", "live")
    monkeypatch.setenv("ROUTER_ROUTING", '{"ask": ["gpt"]}')
    code, _, err = invoke("router", "status")
    assert code == 2 and "unknown agent" in err


def test_ask_against_fake_server_then_status_shows_cost_and_breakers(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, server: ProviderServer, fake: FakeProviders
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "test-key")
    monkeypatch.setenv("DEEPSEEK_BASE_URL", server.deepseek_url)
    monkeypatch.setenv("PERPLEXITY_API_KEY", "test-key")
    monkeypatch.setenv("PERPLEXITY_BASE_URL", server.perplexity_url)
    fake.inject("perplexity", Fault.http(401))
    code, out, err = invoke("ask", "What is RSI?", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["agent"] == "deepseek" and data["attempts"][0]["error_class"] == "HTTP401"
    assert "test-key" not in out + err
    code, out, _ = invoke("router", "status", "--json")
    status = json.loads(out)
    rows = {r["agent"]: r for r in status["agents"]}
    assert (
        rows["perplexity"]["breaker"] == "open" and rows["perplexity"]["breaker_reason"] == "auth"
    )
    assert (
        rows["deepseek"]["cost_usd"] > 0
        and status["total_cost_usd"] == rows["deepseek"]["cost_usd"]
    )
    assert "test-key" not in out
    code, out, _ = invoke("router", "status")
    assert code == 0 and "total cost so far" in out


def test_env_mapping() -> None:
    cfg = router_config_from_env(
        {
            "DEEPSEEK_API_KEY": "k",
            "DEEPSEEK_MODEL": "deepseek-v4-pro",
            "PERPLEXITY_API_KEY": "",
            "ROUTER_MODE": "OFFLINE",
            "ROUTER_ROUTING": '{"ask": ["deepseek"]}',
        }
    )
    assert cfg.deepseek.configured and cfg.deepseek.model == "deepseek-v4-pro"
    assert not cfg.perplexity.configured
    assert cfg.mode.value == "offline" and cfg.routing["ask"] == ("deepseek", "local")  # type: ignore[index]
