"""Certificates made at run time with the openssl command: a CA, a server certificate for
127.0.0.1 and localhost, client certificates, a second CA that trusts nothing of ours."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
LEAF_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid,issuer\n"
)


@dataclass(frozen=True)
class Pair:
    """A certificate and its key, as files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Certs:
    """Everything a TLS test needs, in one directory."""

    ca: Path
    server: Pair
    client: Pair
    other_ca: Path  # a CA that signed none of the above
    stranger: Pair  # a client certificate signed by ``other_ca``


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path, name: str) -> Pair:
    """A self-signed CA."""
    pair = Pair(folder / f"{name}.pem", folder / f"{name}.key")
    _openssl(
        "req", "-x509", *EC_KEY, "-keyout", str(pair.key), "-out", str(pair.cert),
        "-days", "2", "-subj", f"/CN=jobqueue test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    return pair


def make_leaf(folder: Path, name: str, ca: Pair, usage: str, alt_names: str = "") -> Pair:
    """A certificate signed by ``ca`` for ``usage`` (serverAuth or clientAuth)."""
    pair = Pair(folder / f"{name}.pem", folder / f"{name}.key")
    csr, extensions = folder / f"{name}.csr", folder / f"{name}.ext"
    extensions.write_text(
        LEAF_EXTENSIONS
        + f"extendedKeyUsage={usage}\n"
        + (f"subjectAltName={alt_names}\n" if alt_names else "")
    )
    _openssl(
        "req", *EC_KEY, "-keyout", str(pair.key), "-out", str(csr), "-subj", f"/CN={name}",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-set_serial", str(secrets.randbits(63)), "-days", "2", "-out", str(pair.cert),
        "-extfile", str(extensions),
        cwd=folder,
    )  # fmt: skip
    return pair


def make_certs(folder: Path) -> Certs:
    """A CA, a server certificate for 127.0.0.1 and localhost, a client certificate, and a
    stranger's CA and client certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = make_ca(folder, "ca")
    other = make_ca(folder, "other-ca")
    return Certs(
        ca=ca.cert,
        server=make_leaf(folder, "server", ca, "serverAuth", "DNS:localhost,IP:127.0.0.1"),
        client=make_leaf(folder, "worker", ca, "clientAuth"),
        other_ca=other.cert,
        stranger=make_leaf(folder, "stranger", other, "clientAuth"),
    )
