"""RabbitMQ test helpers: random queue names, connected brokers, vhosts, a private node to stop.

Import the fixtures where they are needed (``from tests.brokers.rabbit import rabbitmq_broker``)
or take them from ``tests/brokers/conftest.py``. Everything here works on the shared node
(``tests.services.RABBITMQ_URL``) except :class:`PrivateNode`, a RabbitMQ of our own on free
ports that tests may stop and start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pika
import pytest

from benchmarks import rig as benchmark_rig
from jobqueue.brokers import Delivery
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from tests.services import RABBITMQ_URL, free_port

# Short reconnect backoff and timeouts so failure tests end quickly.
TEST_OPTIONS: dict[str, Any] = {
    "reconnect_max_s": 0.5,
    "connect_timeout_s": 5.0,
    "confirm_timeout_s": 10.0,
}
WAIT_S = 15.0
# The Debian package's rabbitmqctl switches to the rabbitmq user (and its cookie); the scripts
# under /usr/lib/rabbitmq/bin run as whoever calls them, which a private node needs.
RABBITMQ_LIB_BIN = Path("/usr/lib/rabbitmq/bin")


def fresh_queue_name() -> str:
    """A queue name no other test uses."""
    return f"jqtest-{secrets.token_hex(5)}"


class BrokerFactory(Protocol):
    """Builds a connected RabbitmqBroker; its queues are deleted after the test."""

    def __call__(
        self, queue: str | None = None, *, url: str = ..., **options: Any
    ) -> Awaitable[RabbitmqBroker]: ...


@pytest.fixture
async def rabbitmq_broker_factory() -> AsyncIterator[BrokerFactory]:
    """A factory of connected brokers on random queues; all closed and deleted afterwards."""
    made: list[RabbitmqBroker] = []

    async def make(
        queue: str | None = None, *, url: str = RABBITMQ_URL, **options: Any
    ) -> RabbitmqBroker:
        broker = RabbitmqBroker(url, queue or fresh_queue_name(), **{**TEST_OPTIONS, **options})
        made.append(broker)
        await broker.connect()
        return broker

    yield make
    for broker in made:
        await broker.close()
    for url, queue in {(b._url, b.names.queue) for b in made}:
        await asyncio.to_thread(delete_queues, url, queue)


@pytest.fixture
async def rabbitmq_broker(rabbitmq_broker_factory: BrokerFactory) -> RabbitmqBroker:
    """One connected broker on a random queue of the shared node."""
    return await rabbitmq_broker_factory()


def delete_queues(url: str, queue: str) -> None:
    """Delete every queue and exchange a broker on ``queue`` may have declared, and those of
    its status events queue (which a worker reporting status declares)."""
    benchmark_rig.delete_queues(url, [queue])


@contextlib.contextmanager
def raw_channel(url: str = RABBITMQ_URL) -> Iterator[Any]:
    """A plain blocking pika channel, to act behind the broker's back."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


async def next_delivery(deliveries: AsyncIterator[Delivery], timeout_s: float = WAIT_S) -> Delivery:
    """The next delivery, failing the test if none comes within ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        return await anext(deliveries)


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = WAIT_S, interval_s: float = 0.05
) -> None:
    """Poll ``check`` until it holds; fail with a timeout if it never does."""
    async with asyncio.timeout(timeout_s):
        while True:
            if await check():
                return
            await asyncio.sleep(interval_s)


def rabbitmqctl(*args: str, timeout_s: float = 60.0) -> str:
    """Run rabbitmqctl against the shared node; returns its output."""
    executable = shutil.which("rabbitmqctl")
    if executable is None:
        pytest.skip("rabbitmqctl is not installed")
    done = subprocess.run(
        [executable, *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


@pytest.fixture
def rabbitmq_vhost() -> Iterator[str]:
    """A fresh vhost on the shared node (guest has every permission); yields its AMQP URL."""
    vhost = fresh_queue_name()
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield RABBITMQ_URL.rstrip("/") + "/" + urllib.parse.quote(vhost, safe="")
    finally:
        rabbitmqctl("delete_vhost", vhost)


class PrivateNode:
    """A RabbitMQ node of our own (own ports, files, cookie, user) that tests may stop.

    Never the shared node: stopping that would break every other test running.
    """

    def __init__(self, base: Path) -> None:
        self.name = f"jqtest-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.user, self.password = "jqtest", f"pw-{secrets.token_hex(8)}"
        self.url = f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}/"
        self.startup_s = 0.0
        self._base = base
        for sub in ("home", "mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (base / "enabled_plugins").write_text("[].\n")
        self._env = {
            **os.environ,
            "HOME": str(base / "home"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
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


@pytest.fixture(scope="session")
def private_rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateNode]:
    """A private RabbitMQ node for tests that stop the broker; started once per session."""
    if not PrivateNode.available():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("rabbitmq-server is not installed (CI=true: these tests must run)")
        pytest.skip("rabbitmq-server is not installed")
    node = PrivateNode(tmp_path_factory.mktemp("rabbitmq-node"))
    node.start()
    try:
        yield node
    finally:
        node.stop()
