"""What both clients connect with: the API's URL, the token, TLS and timeouts, as httpx takes
them (``JOBQUEUE_API_URL`` and ``JOBQUEUE_TOKEN`` when not given, as the commands read them)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any, TypedDict

from jobqueue import __version__, config
from jobqueue.client.operations import Operations
from jobqueue.client.retry import RetryPolicy
from jobqueue.tls.http import client_context

DEFAULT_API_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT_S = 10.0
Verify = bool | str | ssl.SSLContext
"""True: the system's trust store; a path: that CA file; a context as it is; False: none."""
Cert = str | tuple[str, str] | None
"""A client certificate: one PEM file holding the key too, or (certificate, key) files."""


class ClientOptions(TypedDict, total=False):
    """How a client reaches the API: ``token`` (else ``JOBQUEUE_TOKEN``) sent as a bearer
    token; ``timeout_s`` for each request (10 s; a wait adds what it asks the API to hold);
    ``retry``, a :class:`RetryPolicy`; ``verify``: True (the system's trust store), a CA file,
    an ``ssl.SSLContext``, or False; ``cert``: a client certificate; ``headers`` to add."""

    token: str | None
    timeout_s: float
    retry: RetryPolicy
    verify: Verify
    cert: Cert
    headers: Mapping[str, str] | None


def connect(base_url: str | None, options: ClientOptions) -> tuple[dict[str, Any], Operations]:
    """The keyword arguments of ``httpx.Client`` and ``httpx.AsyncClient`` alike for the API
    at ``base_url`` (else ``JOBQUEUE_API_URL``), and its operations."""
    url = api_url(base_url)
    http = http_options(
        url,
        api_token(options.get("token")),
        options.get("timeout_s", DEFAULT_TIMEOUT_S),
        options.get("verify", True),
        options.get("cert"),
        options.get("headers"),
    )
    return http, Operations(url, options.get("retry") or RetryPolicy())


def api_url(base_url: str | None) -> str:
    """``base_url``, else ``JOBQUEUE_API_URL``, else the local default."""
    return (base_url or os.environ.get(config.env("api_url")) or DEFAULT_API_URL).rstrip("/")


def api_token(token: str | None) -> str | None:
    """``token``, else ``JOBQUEUE_TOKEN`` (None when neither is set)."""
    found = token if token is not None else os.environ.get(config.env("token"), "")
    return found.strip() or None


def http_options(
    base_url: str,
    token: str | None,
    timeout_s: float,
    verify: Verify,
    cert: Cert,
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    """The keyword arguments of both httpx clients."""
    sent = {"User-Agent": f"jobqueue-client/{__version__}", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return {
        "base_url": base_url,
        "headers": sent,
        "timeout": timeout_s,
        "verify": _context(verify, cert),
    }


def _context(verify: Verify, cert: Cert) -> ssl.SSLContext | bool:
    """The TLS context for ``verify`` with ``cert`` loaded (httpx takes contexts only)."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, ssl.SSLContext):
        context = verify
    else:
        context = client_context(verify if isinstance(verify, str) else None)
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context
