"""A private RabbitMQ node on loopback for tests (the recipe of the jobs spec): the real
server script (the /usr/sbin wrapper switches user when run as root), every port, file
and the epmd daemon private to one temporary directory, stopped by node name and pid."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

from servers_testkit import free_port

__all__ = ["RabbitNode", "rabbit_script"]


def rabbit_script() -> str | None:
    """The real rabbitmq-server script, or None when RabbitMQ is not installed."""
    found = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
    return found[-1] if found else None


class RabbitNode:
    """Start with `start()`, then use `url`; `stop()` ends the node and its epmd."""

    def __init__(self, script: str, workdir: Path) -> None:
        self.script = script
        self.dir = workdir
        self.port = free_port()
        self.node = f"rabbit_{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        conf = workdir / "rabbitmq.conf"
        # consumer_timeout above every test task; loopback only
        conf.write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\nconsumer_timeout = 3600000\n"
                        "loopback_users = none\n")  # fmt: skip
        (workdir / "enabled_plugins").write_text("[].\n")
        (workdir / "advanced.config").write_text("[].\n")
        (workdir / "rabbitmq-env.conf").write_text("")
        self.pidfile = workdir / "rabbit.pid"
        self.env = {
            **os.environ, "HOME": str(workdir), "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()), "ERL_EPMD_PORT": str(free_port()),
            "ERL_EPMD_ADDRESS": "127.0.0.1", "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(workdir / "log"), "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.pidfile), "RABBITMQ_CONF_ENV_FILE": str(workdir / "rabbitmq-env.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
        }  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def _ctl(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[bytes]:
        # the real rabbitmqctl next to the server script: the /usr/sbin wrapper also switches
        # user when run as root, and that user cannot read our private pid file
        ctl = str(Path(self.script).with_name("rabbitmqctl"))
        return subprocess.run([ctl, "-n", self.node, *args], env=self.env,
                              capture_output=True, timeout=timeout)  # fmt: skip

    def start(self) -> None:
        log = open(self.dir / "server.out", "wb")  # noqa: SIM115 - lives as long as the node
        self.proc = subprocess.Popen([self.script], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # fmt: skip
        ready = self._ctl("--timeout", "60", "wait", str(self.pidfile))
        if ready.returncode != 0:
            self.stop()
            out = (self.dir / "server.out").read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"rabbitmq-server did not start: {ready.stderr.decode()[-500:]}\n{out}"
            )

    def stop(self) -> None:
        self._ctl("stop", str(self.pidfile), timeout=60)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
        # epmd outlives the node: stop ours (same port), never another one
        subprocess.run(["epmd", "-kill"], env=self.env, capture_output=True, timeout=30)
