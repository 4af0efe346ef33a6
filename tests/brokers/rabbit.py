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
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol

import pika
import pytest

from benchmarks import rig as benchmark_rig
from benchmarks.rabbitnode import PrivateNode
from jobqueue.brokers import Delivery
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from tests.services import RABBITMQ_URL

# Short reconnect backoff and timeouts so failure tests end quickly.
TEST_OPTIONS: dict[str, Any] = {
    "reconnect_max_s": 0.5,
    "connect_timeout_s": 5.0,
    "confirm_timeout_s": 10.0,
}
WAIT_S = 15.0


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
