"""Reading and checking PEM files: every failure is one line that names the file."""

from __future__ import annotations

import ssl
from pathlib import Path

from jobqueue.errors import ConfigError

__all__ = ["read_certificates", "read_key_pair"]


def read_certificates(path: str, what: str) -> bytes:
    """The PEM certificates in ``path`` (one or a chain); ConfigError naming ``what`` and the
    file when it cannot be read or holds no certificate."""
    pem = _read(path, what)
    try:
        ssl.create_default_context(cadata=pem.decode("ascii"))
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise ConfigError(f"{what} {path} holds no PEM certificate") from None
    return pem


def read_key_pair(cert_path: str, key_path: str) -> tuple[bytes, bytes]:
    """The certificate and private key in these files, checked to belong together."""
    cert = read_certificates(cert_path, "TLS certificate")
    key = _read(key_path, "TLS key")
    if b"ENCRYPTED" in key:
        raise ConfigError(f"TLS key {key_path} is encrypted: give it unencrypted")
    if b"PRIVATE KEY-----" not in key:
        raise ConfigError(f"TLS key {key_path} holds no PEM private key")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise ConfigError(
                f"TLS key {key_path} does not match the certificate {cert_path}"
            ) from None
        raise ConfigError(f"TLS key {key_path} cannot be used: {exc.reason or exc}") from None
    return cert, key


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
