"""A real `jobqueue api` serving HTTPS and gRPC over TLS, and workers that reach it."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.control.processes import Process
from tests.services import free_port
from tests.tls.certs import Certs, Pair


class TlsApi(Process):
    """`jobqueue api --tls-cert --tls-key [--tls-client-ca]` with a SQLite broker, on free
    ports."""

    def __init__(self, folder: Path, certs: Certs, client_ca: Path | None = None) -> None:
        self.http_port, self.grpc_port = free_port(), free_port()
        self.base_url = f"https://127.0.0.1:{self.http_port}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.broker_url = f"sqlite:///{folder / 'broker'}.db"
        self.ca = certs.ca
        args = ["api", "--tls-cert", str(certs.server.cert), "--tls-key", str(certs.server.key)]
        if client_ca is not None:
            args += ["--tls-client-ca", str(client_ca)]
        env = {
            "JOBQUEUE_BROKER_URL": self.broker_url,
            "JOBQUEUE_HTTP_ADDR": f"127.0.0.1:{self.http_port}",
            "JOBQUEUE_GRPC_ADDR": self.grpc_target,
            "JOBQUEUE_REGISTRY_URL": "",
        }
        super().__init__(args, env, folder / "api.log")

    def client(self) -> httpx.Client:
        """An HTTPS client of the API that trusts the test CA."""
        context = ssl.create_default_context(cafile=str(self.ca))
        return httpx.Client(base_url=self.base_url, verify=context, timeout=5.0)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Return once the API answers over HTTPS; fail if it exits or takes too long."""
        deadline = time.monotonic() + timeout_s
        with self.client() as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, f"the API exited:\n{self.output()}"
                try:
                    if client.get("/workers").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        raise AssertionError(f"the API was not ready within {timeout_s} s:\n{self.output()}")

    def worker_ids(self) -> list[str]:
        """The ids of the workers the API lists."""
        with self.client() as client:
            workers = client.get("/workers").json()["workers"]
        return [worker["worker_id"] for worker in workers]


def start_worker(
    folder: Path,
    api: TlsApi,
    name: str,
    ca: Path | None = None,
    client: Pair | None = None,
    target: str | None = None,
) -> Process:
    """A `jobqueue worker` of the demo handlers registering with ``api``: verifying it against
    ``ca`` (flag) and presenting ``client`` (environment), when given."""
    args = ["worker"]
    if ca is not None:
        args += ["--tls-ca", str(ca)]
    env = {
        "JOBQUEUE_BROKER_URL": api.broker_url,
        "JOBQUEUE_API_GRPC": target or api.grpc_target,
        "JOBQUEUE_HEARTBEAT_INTERVAL_S": "0.2",
        "JOBQUEUE_WORKER_ID": name,
    }
    if client is not None:
        env["JOBQUEUE_WORKER_TLS_CERT"] = str(client.cert)
        env["JOBQUEUE_WORKER_TLS_KEY"] = str(client.key)
    return Process(args, env, folder / f"{name}.log")


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    """Poll ``condition()`` until it is true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        time.sleep(0.05)
