"""Who is looking at a page: the principal the gate found, its session, what it may do."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from jobqueue.auth.book import ANONYMOUS, Principal
from jobqueue.auth.http import PRINCIPAL_KEY
from jobqueue.auth.scopes import Scope as TokenScope
from jobqueue.auth.session import SESSION_KEY, csrf_token


def principal_of(request: Request) -> Principal:
    """The request's principal; everyone where the API has no token gate."""
    principal = request.scope.get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else ANONYMOUS


@dataclass(frozen=True, slots=True)
class Viewer:
    """What a page needs to know of its viewer."""

    name: str
    can_admin: bool
    signed_in: bool
    csrf: str


def viewer_of(request: Request) -> Viewer:
    """The viewer of ``request``: its token's name, whether it may act, its CSRF token."""
    principal = principal_of(request)
    session = request.scope.get(SESSION_KEY)
    return Viewer(
        name=principal.name,
        can_admin=principal.may(TokenScope.ADMIN),
        signed_in=isinstance(session, str),
        csrf=csrf_token(session) if isinstance(session, str) else "",
    )
