"""The client over HTTPS, against a real `jobqueue api` serving TLS: it verifies the API's
certificate against the CA it is given, and an API it cannot verify is Unavailable at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobqueue.client import Client, Unavailable
from tests.tls.certs import Certs, make_certs
from tests.tls.processes import TlsApi


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A CA, the server's certificate for 127.0.0.1, and a CA that signed nothing of it."""
    return make_certs(tmp_path_factory.mktemp("client-certs"))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[TlsApi]:
    """The API serving HTTPS with the server certificate."""
    api = TlsApi(tmp_path_factory.mktemp("client-https"), certs)
    try:
        api.wait_ready()
        yield api
    finally:
        assert api.stop() == 0, api.output()


def test_the_client_verifies_the_api_against_the_ca_file_it_is_given(
    api: TlsApi, certs: Certs
) -> None:
    with Client(api.base_url, token="", verify=str(certs.ca)) as client:
        submitted = client.submit("noop", {})
        assert client.get(submitted.id).id == submitted.id


def test_an_api_whose_certificate_the_client_cannot_verify_is_unavailable(
    api: TlsApi, certs: Certs
) -> None:
    strangers = Client(api.base_url, token="", verify=str(certs.other_ca))  # not retried

    with strangers, pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED"):
        strangers.list_jobs()
