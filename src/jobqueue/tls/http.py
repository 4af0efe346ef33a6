"""TLS for HTTP clients: what the commands that call the API verify its certificate against."""

from __future__ import annotations

import ssl

from jobqueue.tls.files import read_certificates

__all__ = ["client_context"]


def client_context(ca: str | None) -> ssl.SSLContext:
    """A context that verifies servers against the CA in ``ca``, else the system's trust store
    (which ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` can point elsewhere)."""
    if not ca:
        return ssl.create_default_context()
    pem = read_certificates(ca, "CA certificate")
    return ssl.create_default_context(cadata=pem.decode("ascii"))
