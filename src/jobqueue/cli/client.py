"""The commands' HTTP client of a running API: its URL option, and one call that maps errors."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from jobqueue import config
from jobqueue.brokers import redact_text, redact_url
from jobqueue.errors import JobqueueError, NotFound

API_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 10.0

ApiUrl = Annotated[
    str, typer.Option(envvar=config.env("api_url"), help="Base URL of a running jobqueue API.")
]


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
) -> dict[str, Any]:
    """Call the API; its JSON answer, or a one-line JobqueueError naming what went wrong.

    ``unreachable_hint`` ends the error of an API that cannot be reached (what else to do).
    """
    try:
        response = httpx.request(
            method,
            api_url.rstrip("/") + path,
            content=body,
            headers=headers,
            params=params,
            timeout=timeout_s,
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


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:200] or response.reason_phrase
