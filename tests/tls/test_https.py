"""A real `jobqueue api` serving HTTPS: clients that trust its CA get answers, plain HTTP and
clients that do not trust it get none, and the commands talk to it over https://."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.tls.certs import Certs
from tests.tls.processes import TlsApi

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[TlsApi]:
    api = TlsApi(tmp_path_factory.mktemp("https-api"), certs)
    try:
        api.wait_ready()
        yield api
    finally:
        assert api.stop() == 0, api.output()


def jobqueue(*args: str, ca: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a `jobqueue` command, with ``JOBQUEUE_TLS_CA`` set to ``ca`` if given."""
    env = {k: v for k, v in os.environ.items() if k != "JOBQUEUE_TLS_CA"}
    if ca is not None:
        env["JOBQUEUE_TLS_CA"] = str(ca)
    return subprocess.run(
        [sys.executable, "-m", "jobqueue", *args],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_client_trusting_the_ca_gets_answers_over_https(api: TlsApi) -> None:
    with api.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}


def test_curl_verifying_the_ca_gets_answers_by_address_and_by_name(
    api: TlsApi, certs: Certs
) -> None:
    for host in ("127.0.0.1", "localhost"):
        url = f"https://{host}:{api.http_port}/healthz"
        done = subprocess.run(
            ["curl", "-sS", "--cacert", str(certs.ca), url], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert '"ok"' in done.stdout


def test_plain_http_gets_no_answer(api: TlsApi) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{api.http_port}/healthz", timeout=5.0)


def test_a_client_that_does_not_trust_the_ca_is_refused(api: TlsApi, certs: Certs) -> None:
    context = ssl.create_default_context(cafile=str(certs.other_ca))
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{api.base_url}/healthz", verify=context, timeout=5.0)


def test_commands_reach_the_api_over_https_with_the_ca_from_the_flag_or_the_variable(
    api: TlsApi, certs: Certs
) -> None:
    ca = str(certs.ca)
    submitted = jobqueue("submit", "noop", "{}", "--api-url", api.base_url, "--tls-ca", ca)
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["id"]
    status = jobqueue("status", job_id, "--json", "--api-url", api.base_url, ca=certs.ca)
    assert status.returncode == 0, status.stderr
    assert job_id in status.stdout
    listed = jobqueue("jobs", "--api-url", api.base_url, ca=certs.ca)
    assert listed.returncode == 0, listed.stderr
    assert job_id[:8] in listed.stdout
    for args in (["workers"], ["dlq", "list"]):
        done = jobqueue(*args, "--api-url", api.base_url, "--tls-ca", ca)
        assert done.returncode == 0, done.stderr


def test_workers_subcommands_take_the_ca_given_to_the_group(api: TlsApi, certs: Certs) -> None:
    ca = str(certs.ca)
    done = jobqueue("workers", "--api-url", api.base_url, "--tls-ca", ca, "pause", "nobody")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "CERTIFICATE" not in done.stderr  # the API answered (404): the CA was used


def test_a_command_without_the_ca_fails_in_one_line(api: TlsApi) -> None:
    done = jobqueue("jobs", "--api-url", api.base_url)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: cannot reach the API at {api.base_url}: ")
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr


def test_a_command_given_an_unreadable_ca_fails_in_one_line_naming_it(
    api: TlsApi, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.pem"
    done = jobqueue("jobs", "--api-url", api.base_url, "--tls-ca", str(missing))
    assert (done.returncode, done.stderr) == (
        1,
        f"error: cannot read CA certificate {missing}: No such file or directory\n",
    )
