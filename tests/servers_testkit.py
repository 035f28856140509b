"""Real servers for tests: free loopback ports and a private redis-server."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(binary: str, workdir: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """redis-server on loopback (no persistence), started and answering; (process, port).
    Raises RuntimeError when it does not come up within a generous 10 s."""
    port = port or free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(workdir)]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.02)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process by pid, killing it if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ProviderServer:
    """The fake DeepSeek + Perplexity app served on loopback (a `market.ServerThread`), with
    the base URLs to configure the adapters with."""

    def __init__(self) -> None:
        from agents.fake_providers import FakeProviders
        from market import ServerThread

        self.app = FakeProviders()
        self._thread = ServerThread(self.app)

    @property
    def deepseek_url(self) -> str:
        from agents.fake_providers import deepseek_url

        return deepseek_url(self._thread.url)

    @property
    def perplexity_url(self) -> str:
        from agents.fake_providers import perplexity_url

        return perplexity_url(self._thread.url)

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.stop()
