"""The HTTP server's run file: how a stdio server or the CLI learns that `serve --transport
http` is up, and where.

`serve` writes `<data dir>/http-server.json` (`{"url", "pid"}`) once it knows its address
and removes it on exit. A reader ignores a file whose process is gone (a crash or a kill -9
leaves the file behind), so a stale file never yields a dead address.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RUN_FILE", "RunningServer", "advertised", "base_url", "running_server"]

log = logging.getLogger("mcp_server.runfile")

RUN_FILE = "http-server.json"


@dataclass(frozen=True)
class RunningServer:
    url: str  # base URL without a trailing slash, e.g. http://127.0.0.1:8000
    pid: int


def base_url(host: str, port: int) -> str:
    """The URL a local client reaches a server bound to `host:port` at (a wildcard bind is
    reached on loopback, which the Host allowlist accepts)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, but alive
        return True
    return True


def running_server(data_dir: Path) -> RunningServer | None:
    """The HTTP server advertised in `data_dir`, or None (no file, unreadable, or its
    process has gone)."""
    try:
        raw = json.loads((data_dir / RUN_FILE).read_text())
        found = RunningServer(url=str(raw["url"]).rstrip("/"), pid=int(raw["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if _alive(found.pid) else None


@contextmanager
def advertised(data_dir: Path, url: str) -> Iterator[Path]:
    """Write the run file for this process while the block runs; remove it after, unless
    another server has since written its own."""
    path = data_dir / RUN_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
        tmp.replace(path)  # atomic: a reader never sees half a file
    except OSError as exc:  # pages still work; only the printed addresses are missing
        log.warning("cannot write the run file %s: %s", path, exc)
    try:
        yield path
    finally:
        found = running_server(data_dir)
        if found is not None and found.pid == os.getpid():
            path.unlink(missing_ok=True)
