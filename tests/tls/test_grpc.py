"""Workers reach an API that serves gRPC over TLS: verifying its certificate, and presenting
their own where the API requires one (mTLS)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.control.processes import Process
from tests.tls.certs import Certs
from tests.tls.processes import TlsApi, start_worker, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def api(tmp_path: Path, certs: Certs) -> Iterator[TlsApi]:
    api = TlsApi(tmp_path, certs)
    try:
        api.wait_ready()
        yield api
    finally:
        assert api.stop() == 0, api.output()


@pytest.fixture
def mtls_api(tmp_path: Path, certs: Certs) -> Iterator[TlsApi]:
    api = TlsApi(tmp_path, certs, client_ca=certs.ca)
    try:
        api.wait_ready()
        yield api
    finally:
        assert api.stop() == 0, api.output()


def run_job(api: TlsApi) -> dict[str, object]:
    """Submit an echo job over HTTPS and wait for it to finish; the job."""
    with api.client() as client:
        response = client.post("/jobs", json={"type": "echo", "payload": {"over": "tls"}})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        job: dict[str, object] = {}

        def finished() -> bool:
            job.update(client.get(f"/jobs/{job_id}").json())
            return job["state"] in ("succeeded", "dead")

        wait_for(finished, "job finished")
    return job


def says_unreachable(worker: Process) -> Callable[[], bool]:
    """Whether the worker logged that it cannot reach the control plane."""
    return lambda: "unreachable" in worker.output()


def stop(*workers: Process) -> None:
    for worker in workers:
        assert worker.stop() == 0, worker.output()


def test_worker_with_the_ca_registers_over_tls_and_runs_a_job(
    tmp_path: Path, api: TlsApi, certs: Certs
) -> None:
    worker = start_worker(tmp_path, api, "tls-worker", ca=certs.ca)
    try:
        wait_for(lambda: api.worker_ids() == ["tls-worker"], "worker listed")
        job = run_job(api)
        assert job["state"] == "succeeded"
        assert job["result"] == {"over": "tls"}
        assert job["worker_id"] == "tls-worker"
    finally:
        stop(worker)


def test_worker_reaching_the_api_by_host_name_verifies_it(
    tmp_path: Path, api: TlsApi, certs: Certs
) -> None:
    target = f"localhost:{api.grpc_port}"
    worker = start_worker(tmp_path, api, "by-name", ca=certs.ca, target=target)
    try:
        wait_for(lambda: api.worker_ids() == ["by-name"], "worker listed")
    finally:
        stop(worker)


def test_worker_that_trusts_another_ca_never_registers(
    tmp_path: Path, api: TlsApi, certs: Certs
) -> None:
    worker = start_worker(tmp_path, api, "wrong-ca", ca=certs.other_ca)
    try:
        wait_for(says_unreachable(worker), "worker says it cannot reach the API")
        assert api.worker_ids() == []
    finally:
        stop(worker)


def test_plaintext_worker_never_registers_with_a_tls_api(tmp_path: Path, api: TlsApi) -> None:
    worker = start_worker(tmp_path, api, "plaintext")
    try:
        wait_for(says_unreachable(worker), "worker says it cannot reach the API")
        assert api.worker_ids() == []
    finally:
        stop(worker)


def test_api_requiring_client_certificates_refuses_a_worker_without_one_or_with_a_strangers(
    tmp_path: Path, mtls_api: TlsApi, certs: Certs
) -> None:
    bare = start_worker(tmp_path, mtls_api, "no-cert", ca=certs.ca)
    stranger = start_worker(tmp_path, mtls_api, "stranger", ca=certs.ca, client=certs.stranger)
    try:
        for worker in (bare, stranger):
            wait_for(says_unreachable(worker), "worker says it cannot reach the API")
        assert mtls_api.worker_ids() == []
    finally:
        stop(bare, stranger)


def test_api_requiring_client_certificates_takes_a_worker_with_one_and_it_runs_jobs(
    tmp_path: Path, mtls_api: TlsApi, certs: Certs
) -> None:
    worker = start_worker(tmp_path, mtls_api, "mtls-worker", ca=certs.ca, client=certs.client)
    try:
        wait_for(lambda: mtls_api.worker_ids() == ["mtls-worker"], "worker listed")
        assert run_job(mtls_api)["state"] == "succeeded"
    finally:
        stop(worker)
