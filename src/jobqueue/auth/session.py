"""The dashboard's session: the token kept in an HttpOnly cookie, and the CSRF token that every
state-changing request it authenticates must carry (an HMAC of the session)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from urllib.parse import quote

from starlette.requests import cookie_parser
from starlette.responses import RedirectResponse, Response
from starlette.types import Scope

from jobqueue.api.errors import error_response
from jobqueue.ui.headers import UI_HEADERS

SESSION_COOKIE = "jobqueue_session"
SESSION_KEY = "jobqueue.session"
"""The ASGI scope key under which the gate leaves the token a session cookie carried."""
CSRF_HEADER = "x-csrf-token"
UI_PREFIX = "/ui"
LOGIN_PATH = "/ui/login"
_CSRF_CONTEXT = b"jobqueue.ui.csrf.v1"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def encode_session(token: str) -> str:
    """The cookie's value for ``token``: URL-safe base64 without padding, so any token fits a
    cookie unquoted."""
    encoded = base64.urlsafe_b64encode(token.encode("utf-8", "surrogatepass"))
    return encoded.decode("ascii").rstrip("=")


def decode_session(value: str) -> str | None:
    """The token a cookie value holds, or None for one this API did not write."""
    try:
        padded = value + "=" * (-len(value) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None


def cookie_token(scope: Scope) -> str | None:
    """The token of the request's session cookie, if it has one."""
    for name, value in scope["headers"]:
        if name == b"cookie":
            raw = cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE)
            return decode_session(raw) if raw else None
    return None


def presented_token(scope: Scope) -> str | None:
    """The token a request carried: its bearer token, else its session cookie's."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return cookie_token(scope)


def csrf_token(token: str) -> str:
    """The CSRF token of the session holding ``token``: HMAC-SHA256 keyed by the token itself,
    so every API replica computes the same one and nobody without the cookie can."""
    key = token.encode("utf-8", "surrogatepass")
    return hmac.new(key, _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_passes(scope: Scope) -> bool:
    """Whether the request may go on: it was not authenticated by the session cookie, it only
    reads, or its ``X-CSRF-Token`` is the session's (compared in constant time)."""
    token = scope.get(SESSION_KEY)
    if token is None or scope["method"] in _READS:
        return True
    sent = next((v for n, v in scope["headers"] if n == CSRF_HEADER.encode()), b"")
    return hmac.compare_digest(sent, csrf_token(token).encode("ascii"))


def csrf_refusal() -> Response:
    """The answer to a cookie-authenticated change without the session's CSRF token."""
    return error_response(
        403,
        "csrf_failed",
        "a request authenticated by the dashboard's session must carry its X-CSRF-Token",
    )


def wants_login(scope: Scope) -> bool:
    """Whether a refused request is a person opening a dashboard page (not its event stream)."""
    path: str = scope["path"]
    is_page = path == UI_PREFIX or path.startswith(UI_PREFIX + "/")
    return is_page and scope["method"] == "GET" and path != "/ui/stream"


def login_redirect(scope: Scope) -> Response:
    """To the login page, coming back here afterwards; a stale session cookie is cleared."""
    query = scope["query_string"].decode("latin-1")
    here = scope["path"] + (f"?{query}" if query else "")
    response = RedirectResponse(f"{LOGIN_PATH}?next={quote(here, safe='')}", 303, UI_HEADERS)
    if cookie_token(scope) is not None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
