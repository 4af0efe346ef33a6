"""The commands' HTTP client of a running API: its URL option, and one call that maps errors.

An ``https://`` URL is verified against the CA given with ``--tls-ca`` (``JOBQUEUE_TLS_CA``),
else against the system's trust store.
"""

from __future__ import annotations

import os
import ssl
from typing import Annotated, Any

import httpx
import typer

from jobqueue import config
from jobqueue.brokers import redact_text, redact_url
from jobqueue.errors import JobqueueError, NotFound
from jobqueue.tls.http import client_context

API_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 10.0

ApiUrl = Annotated[
    str, typer.Option(envvar=config.env("api_url"), help="Base URL of a running jobqueue API.")
]


def token_header() -> dict[str, str]:
    """``Authorization: Bearer $JOBQUEUE_TOKEN`` when that variable is set, else nothing."""
    token = os.environ.get(config.env("token"), "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def request(
    api_url: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    timeout_s: float = TIMEOUT_S,
    unreachable_hint: str = "",
    tls_ca: str | None = None,
) -> dict[str, Any]:
    """Call the API; its JSON answer, or a one-line JobqueueError naming what went wrong.

    ``unreachable_hint`` ends the error of an API that cannot be reached (what else to do);
    ``tls_ca`` is the CA file an ``https://`` API's certificate is verified against.
    """
    verify = _verify(api_url, tls_ca)
    try:
        response = httpx.request(
            method,
            api_url.rstrip("/") + path,
            content=body,
            headers={**token_header(), **(headers or {})},
            params=params,
            timeout=timeout_s,
            verify=verify,
        )
    except httpx.HTTPError as exc:
        hint = f"; {unreachable_hint}" if unreachable_hint else ""
        why = redact_text(str(exc), api_url)
        raise JobqueueError(f"cannot reach the API at {redact_url(api_url)}: {why}{hint}") from None
    if response.is_success:
        answer: dict[str, Any] = response.json()
        return answer
    message = _error_message(response)
    if response.status_code == 404:
        raise NotFound(message)
    raise JobqueueError(f"the API answered {response.status_code}: {message}")


def _verify(api_url: str, tls_ca: str | None) -> ssl.SSLContext | bool:
    if not api_url.lower().startswith("https:"):
        return True  # nothing to verify
    return client_context(tls_ca)


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:200] or response.reason_phrase
