"""The HTTP gate: a pure ASGI layer in front of every route (the submit shortcuts too) that
checks the bearer token against the scope the request needs, and audits admin actions."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobqueue.api.errors import error_response
from jobqueue.auth import origin, session
from jobqueue.auth.actions import ANSWER_PEEK_BYTES, facts_of
from jobqueue.auth.audit import FACTS_KEY, AuditTrail, Facts
from jobqueue.auth.book import ANONYMOUS, Principal, TokenBook
from jobqueue.auth.scopes import Scope as TokenScope
from jobqueue.auth.scopes import needed_scope

logger = logging.getLogger("jobqueue.auth")

PRINCIPAL_KEY = "jobqueue.principal"
TOKEN_NAME_KEY = "jobqueue.token"
"""The ASGI scope keys under which the gate leaves who the request comes from."""
_CHALLENGE = 'Bearer realm="jobqueue"'
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenGate:
    """Lets a request through when it needs no scope, when auth is off, or when its token
    grants the scope; answers 401 (no or unknown token, with ``WWW-Authenticate``) or 403
    (naming the scope) otherwise. Every admin action that got through, and every one refused
    to a known token, is written to the audit trail."""

    def __init__(
        self, app: ASGIApp, book: TokenBook, trail: AuditTrail, *, open_probes: bool = False
    ) -> None:
        self.app = app
        self.book = book
        self.trail = trail
        self.open_probes = open_probes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check, then pass on (or answer the refusal)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        needed = needed_scope(method, path, self.open_probes)
        if needed is None:
            await self.app(scope, receive, send)
            return
        if origin.foreign_change(scope):
            response = error_response(
                403, "cross_site", "a change sent by a browser for another site is refused"
            )
            await response(scope, receive, send)
            return
        principal = self._principal(scope) if self.book.required else ANONYMOUS
        if principal is None:
            await self._refuse_unknown(scope, receive, send)
            return
        if not session.csrf_passes(scope):
            await session.csrf_refusal()(scope, receive, send)
            return
        scope[PRINCIPAL_KEY] = principal
        scope[TOKEN_NAME_KEY] = principal.name
        audited = needed is TokenScope.ADMIN and method not in _READS
        if not principal.may(needed):
            await self._refuse_scope(scope, receive, send, needed)
            if audited:
                await self._audit(scope, principal, 403, b"")
            return
        if not audited:
            await self.app(scope, receive, send)
            return
        status, answer = await self._pass_watching(scope, receive, send)
        await self._audit(scope, principal, status, answer)

    def _principal(self, scope: Scope) -> Principal | None:
        token = _bearer(scope)
        if token is None:  # the dashboard's session cookie stands for a bearer token
            token = session.cookie_token(scope)
            if token is None:
                return None
            scope[session.SESSION_KEY] = token
        return self.book.verify(token)

    async def _refuse_unknown(self, scope: Scope, receive: Receive, send: Send) -> None:
        if session.wants_login(scope):
            await session.login_redirect(scope)(scope, receive, send)
            return
        has_token = _bearer(scope) is not None
        if has_token:
            message, challenge = (
                "the API token is not valid",
                f'{_CHALLENGE}, error="invalid_token"',
            )
        else:
            message, challenge = "an API token is required: Authorization: Bearer TOKEN", _CHALLENGE
        response = error_response(401, "unauthorized", message, {"WWW-Authenticate": challenge})
        await response(scope, receive, send)

    async def _refuse_scope(
        self, scope: Scope, receive: Receive, send: Send, needed: TokenScope
    ) -> None:
        message = (
            f"this token lacks the {needed.value!r} scope, which "
            f"{scope['method']} {scope['path']} needs"
        )
        response = error_response(
            403,
            "forbidden",
            message,
            {"WWW-Authenticate": f'{_CHALLENGE}, error="insufficient_scope", scope="{needed}"'},
        )
        await response(scope, receive, send)

    async def _pass_watching(self, scope: Scope, receive: Receive, send: Send) -> tuple[int, bytes]:
        """Serve, keeping the answer's status and its first bytes."""
        status, answer = 500, bytearray()

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and len(answer) < ANSWER_PEEK_BYTES:
                answer.extend(message.get("body", b"")[: ANSWER_PEEK_BYTES - len(answer)])
            await send(message)

        await self.app(scope, receive, watching)
        return status, bytes(answer)

    async def _audit(self, scope: Scope, principal: Principal, status: int, answer: bytes) -> None:
        facts = scope.get("state", {}).get(FACTS_KEY)
        if not isinstance(facts, Facts):
            facts = facts_of(scope["method"], scope["path"], answer)
        if status >= 300:
            facts = Facts(facts.action, facts.target)  # refused or failed: it touched nothing
        client = scope.get("client")
        await self.trail.record(principal, facts, client[0] if client else "-", status)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


@dataclass(frozen=True, slots=True)
class HttpAuth:
    """What the HTTP gate needs: the tokens, the audit trail, whether probes are open."""

    book: TokenBook
    trail: AuditTrail
    open_probes: bool = False

    def wrap(self, app: ASGIApp) -> TokenGate:
        """``app`` behind the gate."""
        return TokenGate(app, self.book, self.trail, open_probes=self.open_probes)
