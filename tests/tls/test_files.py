"""The TLS settings refuse, in one line naming the file or flag, what cannot work: a
certificate without its key, a file that cannot be read or holds no PEM, a key that is not the
certificate's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobqueue.errors import ConfigError
from jobqueue.tls import ClientTls, client_tls, server_tls
from tests.tls.certs import Certs


def test_no_settings_means_no_tls() -> None:
    assert server_tls(None, None, None) is None
    assert client_tls(None, None, None) is None


def test_the_api_reads_its_certificate_key_and_client_ca(certs: Certs) -> None:
    tls = server_tls(str(certs.server.cert), str(certs.server.key), str(certs.ca))
    assert tls is not None
    assert tls.cert == certs.server.cert.read_bytes()
    assert tls.key == certs.server.key.read_bytes()
    assert tls.client_ca == certs.ca.read_bytes()


def test_a_worker_turns_tls_on_with_a_ca_or_a_client_certificate(certs: Certs) -> None:
    assert client_tls(str(certs.ca), None, None) == ClientTls(certs.ca.read_bytes())
    tls = client_tls(None, str(certs.client.cert), str(certs.client.key))
    assert tls is not None
    assert (tls.ca, tls.cert) == (None, certs.client.cert.read_bytes())


def test_a_certificate_without_its_key_is_refused(certs: Certs) -> None:
    with pytest.raises(ConfigError, match=r"^--tls-cert needs --tls-key \(JOBQUEUE_TLS_KEY\)"):
        server_tls(str(certs.server.cert), None)
    with pytest.raises(ConfigError, match=r"^--tls-key needs --tls-cert \(JOBQUEUE_TLS_CERT\)"):
        server_tls(None, str(certs.server.key))
    with pytest.raises(ConfigError, match=r"\(JOBQUEUE_WORKER_TLS_KEY\)"):
        client_tls(str(certs.ca), str(certs.client.cert), None)


def test_a_client_ca_without_the_apis_own_certificate_is_refused(certs: Certs) -> None:
    with pytest.raises(ConfigError, match=r"^--tls-client-ca needs --tls-cert and --tls-key"):
        server_tls(None, None, str(certs.ca))


def test_a_missing_file_is_named(certs: Certs, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError, match=f"^cannot read TLS certificate {missing}: No such"):
        server_tls(str(missing), str(certs.server.key))
    with pytest.raises(ConfigError, match=f"^cannot read TLS key {missing}: No such"):
        server_tls(str(certs.server.cert), str(missing))
    with pytest.raises(ConfigError, match=f"^cannot read client CA certificate {missing}"):
        server_tls(str(certs.server.cert), str(certs.server.key), str(missing))
    with pytest.raises(ConfigError, match=f"^cannot read CA certificate {missing}"):
        client_tls(str(missing), None, None)


def test_a_file_that_holds_no_pem_is_named(certs: Certs, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=f"^TLS certificate {junk} holds no PEM certificate$"):
        server_tls(str(junk), str(certs.server.key))
    with pytest.raises(ConfigError, match=f"^TLS key {junk} holds no PEM private key$"):
        server_tls(str(certs.server.cert), str(junk))
    with pytest.raises(ConfigError, match=f"^CA certificate {junk} holds no PEM certificate$"):
        client_tls(str(junk), None, None)
    with pytest.raises(ConfigError, match=f"^TLS certificate {certs.server.key} holds no PEM"):
        server_tls(str(certs.server.key), str(certs.server.cert))


def test_a_key_that_is_not_the_certificates_is_refused(certs: Certs) -> None:
    cert, key = certs.server.cert, certs.client.key
    with pytest.raises(ConfigError, match=f"^TLS key {key} does not match the certificate {cert}$"):
        server_tls(str(cert), str(key))


def test_an_encrypted_key_is_refused(certs: Certs, tmp_path: Path) -> None:
    encrypted = tmp_path / "encrypted.key"
    source = str(certs.server.key)
    subprocess.run(
        ["openssl", "pkey", "-in", source, "-out", str(encrypted), "-aes256", "-passout", "pass:x"],
        check=True,
    )
    with pytest.raises(ConfigError, match=f"^TLS key {encrypted} is encrypted"):
        server_tls(str(certs.server.cert), str(encrypted))


def jobqueue(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a `jobqueue` command with these variables (and none of the TLS ones inherited)."""
    base = {k: v for k, v in os.environ.items() if "TLS" not in k}
    return subprocess.run(
        [sys.executable, "-m", "jobqueue", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_jobqueue_api_with_a_certificate_alone_exits_1_in_one_line(
    certs: Certs, tmp_path: Path
) -> None:
    done = jobqueue(
        "api", "--tls-cert", str(certs.server.cert), "--http-addr", "127.0.0.1:0",
        JOBQUEUE_BROKER_URL=f"sqlite:///{tmp_path / 'b.db'}",
    )  # fmt: skip
    assert (done.returncode, done.stderr.splitlines()[-1:]) == (
        1,
        ["error: --tls-cert needs --tls-key (JOBQUEUE_TLS_KEY): give both or neither"],
    )
    assert "Traceback" not in done.stderr


def test_jobqueue_api_with_a_key_that_does_not_match_exits_1_naming_it(
    certs: Certs, tmp_path: Path
) -> None:
    done = jobqueue(
        "api", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
        JOBQUEUE_BROKER_URL=f"sqlite:///{tmp_path / 'b.db'}",
        JOBQUEUE_TLS_CERT=str(certs.server.cert),
        JOBQUEUE_TLS_KEY=str(certs.client.key),
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"error: TLS key {certs.client.key} does not match the certificate {certs.server.cert}"
    )
    assert "Traceback" not in done.stderr


def test_jobqueue_worker_with_an_unreadable_ca_exits_1_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    done = jobqueue(
        "worker", "--tls-ca", str(missing), JOBQUEUE_BROKER_URL=f"sqlite:///{tmp_path / 'b.db'}"
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"error: cannot read CA certificate {missing}: No such file or directory"
    )
    assert "Traceback" not in done.stderr
