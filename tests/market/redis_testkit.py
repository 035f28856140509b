"""A private redis-server a test may kill and restart on the same port."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers_testkit import start_redis, stop


class RestartableRedis:
    def __init__(self, binary: str, workdir: Path):
        self.binary, self.workdir = binary, workdir
        self.proc: subprocess.Popen[bytes] | None
        self.proc, self.port = start_redis(binary, workdir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.proc, _ = start_redis(self.binary, self.workdir, port=self.port)

    def close(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("BST_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server binary not found and BST_REQUIRE_REDIS=1")
        pytest.skip("redis-server binary not found; set BST_REQUIRE_REDIS=1 to fail instead")
    return binary


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(redis_binary(), tmp_path)
    try:
        yield server
    finally:
        server.close()
