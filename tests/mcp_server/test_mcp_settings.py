"""Settings: .env.example documents every variable, and its blanks mean the defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcp_server.http import check_bind
from mcp_server.logs import redact
from mcp_server.settings import (
    TOOLSETS,
    AdminSettings,
    CatalogSettings,
    JobsSettings,
    LiveSettings,
    RouterSettings,
    ServerSettings,
    Settings,
)

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_variable() -> None:
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    wanted = {"BST_" + k.upper() for k in ServerSettings.model_fields} | {
        k.upper() for k in RouterSettings.model_fields
    }
    wanted |= {"BST_ADMIN_" + k.upper() for k in AdminSettings.model_fields}
    wanted |= {"BST_" + k.upper() for k in JobsSettings.model_fields}
    wanted |= {"DATABASE_URL"} | {
        "BST_" + k.upper() for k in CatalogSettings.model_fields if k != "database_url"
    }
    assert listed == wanted | LiveSettings.env_names()


def test_env_example_blanks_are_defaults(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text((ROOT / ".env.example").read_text())
    s = ServerSettings(_env_file=env)  # type: ignore[call-arg]
    r = RouterSettings(_env_file=env)  # type: ignore[call-arg]
    assert s.http_token is None and s.bybit_base_url is None and str(s.data_dir) != "."
    assert s.toolsets == list(TOOLSETS)  # copying .env.example keeps every toolset
    assert r.router_routing is None and r.deepseek_api_key is None


def test_public_bind_needs_token() -> None:
    plain = Settings(ServerSettings(_env_file=None), RouterSettings(_env_file=None))  # type: ignore[call-arg]
    check_bind(plain, "127.0.0.1")
    with pytest.raises(Exception, match="BST_HTTP_TOKEN"):
        check_bind(plain, "0.0.0.0")


def test_redaction() -> None:
    text = "Authorization: Bearer abcdefgh12345 api_key=sk-1234567890abc mine=topsecret"
    out = redact(text, ["topsecret"])
    assert "abcdefgh12345" not in out and "sk-1234567890abc" not in out and "topsecret" not in out


def test_make_settings_overrides_beat_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp_testkit import make_settings

    monkeypatch.setenv("BST_CACHE_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:2/0")
    assert make_settings(tmp_path, cache_url="memory://").server.cache_url == "memory://"
    assert make_settings(tmp_path).server.cache_url == "memory://"
    assert ServerSettings(_env_file=None).cache_url == "redis://127.0.0.1:1/0"  # type: ignore[call-arg]


def test_refusal_to_bind_publicly_survives_redaction() -> None:
    plain = Settings(ServerSettings(_env_file=None), RouterSettings(_env_file=None))  # type: ignore[call-arg]
    with pytest.raises(Exception) as info:
        check_bind(plain, "0.0.0.0")
    message = str(info.value)
    assert redact(message) == message and "BST_HTTP_TOKEN" in message
    placeholder = "clients send 'Authorization: Bearer <token>' with api_key=<key>"
    assert redact(placeholder) == placeholder
    for secret in ("s3cret-value-123", "abc1234", "hunter2", "Zq<9xK2mPq7Lw"):
        for text in (f"token: {secret}", f"GET /x?api_key={secret} ok", f"password={secret}",
                     f"Authorization: Bearer {secret}"):  # fmt: skip
            assert secret not in redact(text), text


def test_tracebacks_in_logs_are_scrubbed_too(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from mcp_server.logs import configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", ["my-own-secret-value"])
    try:
        raise RuntimeError("upstream said: Authorization: Bearer leaked-token-123 my-own-secret-value")
    except RuntimeError:
        logging.getLogger("mcp_server.test").exception("request failed")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "request failed" in err and "RuntimeError" in err
    assert "leaked-token-123" not in err and "my-own-secret-value" not in err
