"""Certificates for the TLS tests, made once per session in a temporary directory."""

from __future__ import annotations

import pytest

from tests.tls.certs import Certs, make_certs


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A CA, a server certificate for 127.0.0.1 and localhost, client certificates."""
    return make_certs(tmp_path_factory.mktemp("certs"))
