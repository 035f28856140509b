"""Real transports: a stdio subprocess Client, and the HTTP app under uvicorn (subprocess)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[2]


def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no keys, cache and store in tmp, the repo importable."""
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "PATH", "LANG", "NUMBA_CACHE_DIR")}
    env.update(
        BST_DATA_DIR=str(tmp / "store"), BST_CACHE_URL="memory://", PYTHONPATH=str(ROOT), **extra
    )
    return env


async def test_stdio_subprocess_client(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server.stdio"],
        env=child_env(tmp_path),
        cwd=str(tmp_path),
    )
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "run_backtest" in names
        r = await c.call_tool("run_backtest", {"bars": 1000, "include_chart": False})
        assert not r.is_error and r.structured_content["synthetic"] is True  # type: ignore[index]
        bad = await c.call_tool("run_backtest", {"strategy": "nope"})
        assert bad.is_error
        again = await c.call_tool("list_strategies", {})  # the connection survived the error
        assert not again.is_error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_http(tmp: Path, host: str, port: int, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from mcp_server.cli import main; main()",
            "serve",
            "--transport",
            "http",
            "--host",
            host,
            "--port",
            str(port),
        ],
        env=child_env(tmp, **env),
        cwd=str(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode()[-2000:] if proc.stderr else "exited")
        try:
            httpx.get(url + "/health", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    port = free_port()
    proc = serve_http(tmp_path, "127.0.0.1", port, BST_HTTP_TOKEN="s3cret-token-value")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, proc)
        yield url, "s3cret-token-value"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
        assert b"s3cret-token-value" not in err  # secrets never reach the logs
        for line in err.decode().splitlines():
            json.loads(line)  # every log line is JSON


async def test_http_with_token(http_server: tuple[str, str]) -> None:
    url, token = http_server
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(url + "/health").json()["status"] in ("ok", "degraded")
    assert httpx.post(url + "/mcp/", json={}).status_code == 401
    assert httpx.get(url + "/metrics", headers=auth).status_code == 200
    evil_host = httpx.get(url + "/health", headers={"Host": "evil.example:80"})
    assert evil_host.status_code == 421
    evil_origin = httpx.get(url + "/metrics", headers={**auth, "Origin": "http://evil.example"})
    assert evil_origin.status_code == 403
    big = httpx.post(url + "/mcp/", headers=auth, content=b"x" * 2_000_000, timeout=60)
    assert big.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(20):
            yield b"x" * 100_000

    chunked = httpx.post(url + "/mcp/", headers=auth, content=chunks(), timeout=60)
    assert chunked.status_code == 413
    assert _declared_small_but_chunked(url, token) == 413  # a small Content-Length talks nobody out of counting
    for path in ("/mcp", "/mcp/"):  # served as is, no redirect a client may not follow
        r = httpx.post(url + path, headers={**auth, "Accept": "application/json, text/event-stream"},
                       json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, timeout=60)  # fmt: skip
        assert r.status_code not in (307, 308, 404, 500), (path, r.status_code)
    import httpx2  # the SDK's HTTP client
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers=auth) as http,
        Client(streamable_http_client(url + "/mcp/", http_client=http)) as c,
    ):
        r = await c.call_tool("run_backtest", {"bars": 1000, "include_chart": False})
        assert not r.is_error
    text = httpx.get(url + "/metrics", headers=auth).text
    assert 'bst_tool_calls_total{outcome="ok",tool="run_backtest"}' in text


def _declared_small_but_chunked(url: str, token: str) -> int:
    """Status of a 2 MB chunked body that also declares Content-Length: 10."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        head = (f"POST /api/v1/backtests HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n")  # fmt: skip
        s.sendall(head.encode())
        try:
            for _ in range(20):
                s.sendall(b"186a0\r\n" + b"x" * 100_000 + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed while we were still sending
            pass
        return int(s.recv(4096).split(b" ", 2)[1])


def test_http_refuses_public_host_without_token(tmp_path: Path) -> None:
    proc = serve_http(tmp_path, "0.0.0.0", free_port())
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert b"BST_HTTP_TOKEN" in err


async def test_http_loopback_without_token(tmp_path: Path) -> None:
    port = free_port()
    proc = serve_http(tmp_path, "127.0.0.1", port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, proc)
        async with Client(url + "/mcp/") as c:
            assert "run_backtest" in {t.name for t in (await c.list_tools()).tools}
        assert (
            httpx.post(url + "/mcp/", json={}, headers={"Host": "attacker.example"}).status_code
            == 421
        )
        assert (
            httpx.post(
                url + "/mcp/", json={}, headers={"Origin": "http://attacker.example"}
            ).status_code
            == 403
        )
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
