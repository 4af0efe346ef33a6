"""TLS to the broker and the store goes through their URLs: ``amqps://`` (with pika's
``ssl_options``) and PostgreSQL's ``sslmode``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobqueue.brokers.amqp.connection import connection_parameters
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.errors import BrokerUnavailable, ConfigError, StoreUnavailable
from jobqueue.store import from_url as store_from_url
from jobqueue.store.engine import parse_url
from tests.services import POSTGRES_URL
from tests.tls.certs import Certs

AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def amqps_url(port: int, ca: Path) -> str:
    options = urllib.parse.quote(repr({"ca_certs": str(ca)}))
    return f"amqps://guest:guest@localhost:{port}/?ssl_options={options}"


def test_an_amqps_url_verifies_the_broker_against_the_system_roots_on_port_5671() -> None:
    params = connection_parameters("amqps://guest:guest@rabbit.example/", "test", 5.0)
    assert params.port == 5671
    assert params.ssl_options.context.verify_mode == ssl.CERT_REQUIRED
    assert params.ssl_options.context.check_hostname


def test_an_amqp_url_stays_plaintext() -> None:
    assert connection_parameters("amqp://guest:guest@rabbit.example/", "t", 5.0).ssl_options is None


def test_an_amqps_url_naming_a_missing_ca_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^invalid broker URL .*: No such file or directory$"):
        connection_parameters(amqps_url(5671, tmp_path / "missing.pem"), "t", 5.0)


class TlsListener:
    """A TCP listener that speaks TLS with the test server certificate and keeps the first
    bytes each connection sends after the handshake (an AMQP client's protocol header)."""

    def __init__(self, certs: Certs) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(certs.server.cert, certs.server.key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with (
                contextlib.suppress(OSError),
                conn,
                self.context.wrap_socket(conn, server_side=True) as tls,
            ):
                tls.settimeout(5.0)
                self.received.append(tls.recv(len(AMQP_HEADER)))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept (closing alone does not)
        self.sock.close()
        self.thread.join(5.0)


@pytest.fixture
def listener(certs: Certs) -> Iterator[TlsListener]:
    listener = TlsListener(certs)
    try:
        yield listener
    finally:
        listener.close()


async def test_the_rabbitmq_broker_speaks_amqp_inside_tls_to_a_host_its_ca_vouches_for(
    listener: TlsListener, certs: Certs
) -> None:
    broker = RabbitmqBroker(amqps_url(listener.port, certs.ca), "jobs", connect_timeout_s=2.0)
    with pytest.raises(BrokerUnavailable):  # no RabbitMQ behind the TLS: it gets no answer
        await broker.connect()
    await broker.close()
    assert AMQP_HEADER in listener.received


async def test_the_rabbitmq_broker_refuses_a_certificate_its_ca_does_not_vouch_for(
    listener: TlsListener, certs: Certs
) -> None:
    url = amqps_url(listener.port, certs.other_ca)
    broker = RabbitmqBroker(url, "jobs", connect_timeout_s=2.0)
    with pytest.raises(BrokerUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await broker.connect()
    await broker.close()
    await asyncio.sleep(0.1)
    assert AMQP_HEADER not in listener.received


def test_sslmode_and_the_other_libpq_tls_parameters_reach_asyncpg_as_a_dsn(certs: Certs) -> None:
    target = parse_url(f"postgresql://u@db.example/jobs?sslmode=verify-full&sslrootcert={certs.ca}")
    assert target.ssl_dsn == "postgresql://?" + urllib.parse.urlencode(
        {"sslmode": "verify-full", "sslrootcert": str(certs.ca)}
    )
    assert "sslmode" not in target.driver_url.query
    assert parse_url("postgresql://u@db.example/jobs").ssl_dsn is None


def test_an_unknown_sslmode_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="sslmode must be one of disable, allow, prefer, requ"):
        parse_url("postgresql://u@db.example/jobs?sslmode=always")


@pytest.mark.postgres
async def test_sslmode_require_against_a_postgresql_without_tls_fails_rather_than_falls_back() -> (
    None
):
    store = store_from_url(POSTGRES_URL + "?sslmode=require")
    try:
        with pytest.raises(StoreUnavailable, match="rejected SSL upgrade"):
            await store.connect()
    finally:
        await store.close()


@pytest.mark.postgres
async def test_sslmode_disable_connects_to_a_postgresql_without_tls() -> None:
    store = store_from_url(POSTGRES_URL + "?sslmode=disable")
    try:
        await store.connect()
    finally:
        await store.close()
