"""Transport security: the certificate the API serves, and what workers and commands trust.

``ServerTls`` (the API: HTTP and gRPC) and ``ClientTls`` (a worker's gRPC channel) hold PEM
files already read and checked, so a bad file fails at start in one line naming it.
:mod:`jobqueue.tls.credentials` turns them into gRPC credentials, :mod:`jobqueue.tls.http`
into what uvicorn and httpx take.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobqueue.errors import ConfigError
from jobqueue.tls.files import read_certificates, read_key_pair

__all__ = ["ClientTls", "ServerTls", "client_tls", "server_tls"]


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The API's certificate and key (paths and PEM bytes), and the CA that signs the client
    certificates gRPC then requires, if any."""

    cert_path: str
    key_path: str
    cert: bytes
    key: bytes
    client_ca: bytes | None = None


@dataclass(frozen=True, slots=True)
class ClientTls:
    """What a worker trusts (``ca``; ``None``: gRPC's default roots) and the client
    certificate it presents, if any."""

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None


def server_tls(cert: str | None, key: str | None, client_ca: str | None = None) -> ServerTls | None:
    """The API's TLS from its three settings (``None``: plain HTTP and gRPC); ConfigError for a
    certificate without its key, a file that cannot be read, or a key that does not match."""
    if not cert and not key:
        if client_ca:
            raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key (the API's own)")
        return None
    cert_path, key_path = _pair(cert, key, "--tls-cert", "--tls-key", "JOBQUEUE_TLS")
    cert_pem, key_pem = read_key_pair(cert_path, key_path)
    ca_pem = read_certificates(client_ca, "client CA certificate") if client_ca else None
    return ServerTls(cert_path, key_path, cert_pem, key_pem, ca_pem)


def client_tls(ca: str | None, cert: str | None, key: str | None) -> ClientTls | None:
    """A worker's TLS from its settings (``None``: a plaintext channel): on with a CA to
    verify the API against, or a client certificate (and its key) to present."""
    if not ca and not cert and not key:
        return None
    ca_pem = read_certificates(ca, "CA certificate") if ca else None
    if not cert and not key:
        return ClientTls(ca_pem)
    cert_path, key_path = _pair(cert, key, "--tls-cert", "--tls-key", "JOBQUEUE_WORKER_TLS")
    cert_pem, key_pem = read_key_pair(cert_path, key_path)
    return ClientTls(ca_pem, cert_pem, key_pem)


def _pair(
    cert: str | None, key: str | None, cert_flag: str, key_flag: str, env_prefix: str
) -> tuple[str, str]:
    if cert and key:
        return cert, key
    given, missing = (cert_flag, key_flag) if cert else (key_flag, cert_flag)
    variable = env_prefix + "_" + missing.removeprefix("--tls-").upper()
    raise ConfigError(f"{given} needs {missing} ({variable}): give both or neither")
