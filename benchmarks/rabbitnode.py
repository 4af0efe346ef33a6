"""A RabbitMQ node of our own, on free ports and files in a scratch folder, that may be stopped.

Tests and the fault figures (``python -m benchmarks.chaos``) start one to restart it, raise its
alarms or close its connections: never the shared node, which other tests use at the same time.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

# The Debian package's rabbitmqctl switches to the rabbitmq user (and its cookie); the scripts
# under /usr/lib/rabbitmq/bin run as whoever calls them, which a private node needs.
RABBITMQ_LIB_BIN = Path("/usr/lib/rabbitmq/bin")
# A channel checks its consumers' timeouts on its tick (60 s by default); a short tick lets a
# test see a short consumer_timeout fire.
TICK_INTERVAL_MS = 500
# The node's ports lie below Linux's ephemeral range (32768 and up): while the node is down, a
# client's connection attempt to a port inside that range can be given that very port as its
# own and connect to itself, and the node then cannot listen on it again.
PORT_RANGE = (20000, 32000)


def listen_port() -> int:
    """A free port on 127.0.0.1 below the ephemeral range."""
    for _ in range(200):
        port = random.randint(*PORT_RANGE)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {PORT_RANGE}")


class PrivateNode:
    """A RabbitMQ node of our own (own ports, files, cookie, user) that tests may stop.

    Never the shared node: stopping that would break every other test running.
    """

    def __init__(self, base: Path) -> None:
        self.name = f"jqtest-{secrets.token_hex(4)}@localhost"
        self.port = listen_port()
        self.user, self.password = "jqtest", f"pw-{secrets.token_hex(8)}"
        self.url = f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}/"
        self.startup_s = 0.0
        self._base = base
        for sub in ("home", "mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (base / "enabled_plugins").write_text("[].\n")
        (base / "advanced.config").write_text(
            f"[{{rabbit, [{{channel_tick_interval, {TICK_INTERVAL_MS}}}]}}].\n"
        )
        self._env = {
            **os.environ,
            "HOME": str(base / "home"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(listen_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        }

    @staticmethod
    def available() -> bool:
        """Whether rabbitmq-server can be started here."""
        return (RABBITMQ_LIB_BIN / "rabbitmq-server").exists() or bool(
            shutil.which("rabbitmq-server")
        )

    def start(self) -> None:
        """Start the node detached, wait until it runs, and add our user."""
        started = time.monotonic()
        subprocess.run(
            [self._bin("rabbitmq-server"), "-detached"], env=self._env, check=True, timeout=60
        )
        deadline = started + 90
        while self._ctl_status("await_startup", "--timeout", "60") != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"private RabbitMQ node did not start; logs in {self._base}")
            time.sleep(0.3)
        self.startup_s = time.monotonic() - started
        self.ctl("add_user", self.user, self.password)
        self.ctl("set_permissions", "-p", "/", self.user, ".*", ".*", ".*")

    def ctl(self, *args: str) -> str:
        """Run rabbitmqctl against this node."""
        done = subprocess.run(
            [self._bin("rabbitmqctl"), "-n", self.name, *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")
        return done.stdout

    def set_consumer_timeout(self, timeout_ms: int | None) -> None:
        """Set (None: restore the default 30 min) the consumer timeout of channels opened later."""
        value = 1_800_000 if timeout_ms is None else timeout_ms
        self.ctl("eval", f"application:set_env(rabbit, consumer_timeout, {value}).")

    def stop(self) -> None:
        """Stop the node; kill it by its pid file if it does not stop."""
        if self._ctl_status("stop") == 0:
            return
        pid_file = self._base / "node.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), 9)

    def _ctl_status(self, *args: str) -> int:
        done = subprocess.run(
            [self._bin("rabbitmqctl"), "-n", self.name, "-q", *args],
            env=self._env,
            capture_output=True,
            timeout=90,
            check=False,
        )
        return done.returncode

    @staticmethod
    def _bin(name: str) -> str:
        path = RABBITMQ_LIB_BIN / name
        return str(path) if path.exists() else (shutil.which(name) or name)
