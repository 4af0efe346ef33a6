"""The request body size limit, enforced as a pure ASGI middleware before a body is read whole."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobqueue.api.errors import BodyTooLarge, error_response, status_for


class LimitExceeded(Exception):
    """Raised by the counting ``receive``; deliberately not a JobqueueError, so no handler
    answers it before the middleware does (a handler of every ``Exception`` lets it through)."""


class BodyLimitMiddleware:
    """Answer 413 for a body over ``max_body_bytes``.

    A declared ``Content-Length`` over the limit is refused before a byte of the body is read;
    one within it passes untouched (the server never reads past a declared length). A chunked
    body is counted as it streams in: the read that crosses the limit raises an exception that
    no route handles, which unwinds the route and comes back here to be answered.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then pass the request on with a counting ``receive``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None:
            if declared > self.max_body_bytes:
                await self._refuse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._counting(receive), tracking_send)
        except LimitExceeded:
            if response_started:
                raise
            await self._refuse(scope, receive, send)

    def _counting(self, receive: Receive) -> Receive:
        received_bytes = 0

        async def counting_receive() -> Message:
            nonlocal received_bytes
            message = await receive()
            if message["type"] == "http.request":
                received_bytes += len(message.get("body", b""))
                if received_bytes > self.max_body_bytes:
                    raise LimitExceeded
            return message

        return counting_receive

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, code = status_for(BodyTooLarge())
        message = f"request body is larger than the limit of {self.max_body_bytes} bytes"
        # The client may still be sending: the connection will not be reused.
        response = error_response(status, code, message, {"Connection": "close"})
        await response(scope, receive, send)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
