"""Real servers for tests: free loopback ports, a private redis-server and private
PostgreSQL clusters."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
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


# --- PostgreSQL -----------------------------------------------------------------------
# A private cluster per use: initdb'd once into a pristine template, copied per server, run
# by pg_ctl on a free loopback port with its socket in its own directory. Root cannot run
# postgres, so as root every pg binary runs as the `postgres` user (whose directories these
# must be). pg_ctl daemonizes the postmaster: it is not our child, so it is found and ended
# by the pid in its postmaster.pid, never by name.

PG_USER = "bst"
_PG_TIMEOUT = 120  # seconds: generous, the machine may be loaded


def find_postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl, else the directory
    of a pg_ctl on PATH that has initdb next to it; None when PostgreSQL is not installed."""
    found = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if (d / "pg_ctl").exists() and (d / "initdb").exists()]
    if found:
        return max(found, key=lambda d: _version_key(d.parent.name))
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None and (Path(pg_ctl).parent / "initdb").exists():
        return Path(pg_ctl).parent
    return None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in name.split("."))


def _as_pg_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def pg_owned_dir(base_dir: Path) -> Path:
    """Make `base_dir` usable by the postgres binaries: as root, owned by `postgres` (the
    caller picks a place whose parents that user can traverse, e.g. a mkdtemp under /tmp)."""
    base_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base_dir, user="postgres", group="postgres")
    return base_dir


def pg_scratch_dir() -> Path:
    """A new private directory for clusters (see `pg_owned_dir`): in /dev/shm when it has room
    (a cluster copy takes 0.1 s there, 1 s on this machine's disk), else the temp dir. Not a
    pytest tmp dir: their 0700 parents are closed to the `postgres` user."""
    shm = Path("/dev/shm")
    roomy = False
    with contextlib.suppress(OSError):
        stat = os.statvfs(shm)
        roomy = stat.f_bavail * stat.f_frsize > 2**30 and os.access(shm, os.W_OK)
    return pg_owned_dir(Path(tempfile.mkdtemp(prefix="bst-pg-", dir=shm if roomy else None)))


def _pg_run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd: the postgres user may not be able to enter the caller's working directory
    return subprocess.run(_as_pg_user(args), cwd=cwd, capture_output=True, text=True, timeout=_PG_TIMEOUT)


def init_postgres(bin_dir: Path, data_dir: Path) -> None:
    """initdb a cluster (trust auth, superuser `bst`, UTF8, C locale) into `data_dir`, whose
    parent must be a `pg_owned_dir`. Raises RuntimeError with initdb's output on failure."""
    done = _pg_run([str(bin_dir / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", PG_USER,
                    "-E", "UTF8", "--locale=C", "--no-sync"], cwd=data_dir.parent)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed ({done.returncode}): {done.stdout[-1000:]}{done.stderr[-2000:]}")


@dataclass
class PostgresServer:
    """One private cluster: `base_dir/data`, its log `base_dir/log` and socket in `base_dir`.
    The port and data survive `pg_stop`/`pg_kill` + `pg_start`; `pid` is None while stopped."""

    bin_dir: Path
    base_dir: Path
    port: int
    pid: int | None = None

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "log"

    def url(self, db: str = "postgres") -> str:
        """SQLAlchemy URL of database `db` (driver psycopg 3)."""
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{db}"

    def conninfo(self, db: str = "postgres") -> str:
        """libpq URI of database `db`, for `psycopg.connect`."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        pg_start(self)

    def stop(self) -> None:
        pg_stop(self)

    def kill(self) -> None:
        pg_kill(self)

    def restart(self) -> None:
        pg_stop(self)
        pg_start(self)


def start_postgres(bin_dir: Path, base_dir: Path, template: Path | None = None, port: int | None = None) -> PostgresServer:
    """A running private PostgreSQL in `base_dir` (made a `pg_owned_dir`): its data dir copied
    from `template` (a pristine, never started `init_postgres` dir; copying is several times
    faster than initdb) or initdb'd. Raises RuntimeError when it does not come up."""
    pg_owned_dir(base_dir)
    server = PostgresServer(bin_dir, base_dir, port or free_port())
    if template is None:
        init_postgres(bin_dir, server.data_dir)
    else:
        done = _pg_run(["cp", "-a", str(template), str(server.data_dir)], cwd=base_dir)
        if done.returncode != 0:
            raise RuntimeError(f"copying the postgres template failed: {done.stderr[-1000:]}")
    pg_start(server)
    return server


def pg_start(server: PostgresServer) -> None:
    """Start (again) on the server's port and data dir, waiting until it accepts connections."""
    # fsync=off only: the WAL still reaches the OS at each commit, so a killed server loses no
    # committed data (synchronous_commit=off would, and crash tests rely on it not)
    options = f"-p {server.port} -k {server.base_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
    done = _pg_run([str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-o", options,
                    "-l", str(server.log_path), "-w", "-t", str(_PG_TIMEOUT), "start"], cwd=server.base_dir)  # fmt: skip
    server.pid = _postmaster_pid(server)
    if done.returncode != 0:
        pg_kill(server)  # it may be up yet late: never leave it behind
        log = server.log_path.read_text(errors="replace")[-2000:] if server.log_path.exists() else ""
        raise RuntimeError(f"postgres did not start ({done.returncode}): {done.stderr[-1000:]}\n{log}")


def pg_stop(server: PostgresServer) -> None:
    """Fast shutdown (clients disconnected, a checkpoint written); killed when it lingers."""
    if _postmaster_pid(server) is None:
        server.pid = None
        return
    try:
        done = _pg_run([str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-m", "fast",
                        "-w", "-t", "60", "stop"], cwd=server.base_dir)  # fmt: skip
        stopped = done.returncode == 0
    except subprocess.TimeoutExpired:
        stopped = False
    if not stopped:
        pg_kill(server)
    server.pid = None


def pg_kill(server: PostgresServer) -> None:
    """SIGKILL the postmaster and its children, like a crash: the next `pg_start` recovers
    from the WAL."""
    pid = _postmaster_pid(server) or server.pid
    if pid is not None and _alive(pid):
        children = _children(pid)
        # the postmaster first: alive, it would restart the children we kill
        for victim in (pid, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in (pid, *children)) and time.monotonic() < deadline:
            time.sleep(0.05)
    # the daemonized postmaster may stay a zombie for a while (we are not its parent), and a
    # zombie's pid still answers kill(pid, 0): postgres would take these stale lock files
    # for a live server
    for stale in (server.data_dir / "postmaster.pid", server.base_dir / f".s.PGSQL.{server.port}.lock"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    server.pid = None


def _postmaster_pid(server: PostgresServer) -> int | None:
    """The live postmaster's pid from its pid file, or None."""
    try:
        first = (server.data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except (FileNotFoundError, PermissionError):
        return None
    return int(first) if first.isdigit() and _alive(int(first)) else None


def _alive(pid: int) -> bool:
    """Running (a zombie is not) — read from /proc, as the process need not be our child."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


class PostgresDatabase:
    """Database `name` on a private server a test may stop and start again: `url` (SQLAlchemy)
    and `conninfo` (psycopg) stay valid across `stop()`/`kill()` + `start()`."""

    def __init__(self, server: PostgresServer, name: str) -> None:
        self.server, self.name = server, name
        self.url = server.url(name)
        self.conninfo = server.conninfo(name)

    def start(self) -> None:
        pg_start(self.server)

    def stop(self) -> None:
        pg_stop(self.server)

    def kill(self) -> None:
        pg_kill(self.server)
