"""The HTTP connection uvicorn runs: a cap on connections, deadlines for a request's headers and
body.

uvicorn closes a keep-alive connection that stays idle, but has no deadline for the request
itself: a client sending its headers a byte a second, or declaring a body it never sends, holds
its connection (and, with a body, its place among the requests in flight) for as long as it
likes. :class:`GuardedHttpProtocol` adds both deadlines to uvicorn's httptools protocol. The
headers must be whole within ``header_timeout_s`` of the connection opening or of the request's
first byte; the body within ``body_timeout_s`` of the headers. Past either, the client gets a 408
(when no answer has been started on the connection) and the connection is closed; an app still
reading the body sees the client disconnect. A timer runs only while a request is incomplete
after a read: one that arrives whole in one read, the usual case, costs no timer at all.

Past ``max_connections`` open connections, a new one is answered 503 ``overloaded`` with
``Retry-After`` on its first request (``/healthz`` excepted), then closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from enum import Enum
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from jobqueue.api.errors import error_response
from jobqueue.api.load import LoadSettings
from jobqueue.api.shedding import NEVER_SHED, RETRY_AFTER_S

logger = logging.getLogger(__name__)


class _Phase(Enum):
    IDLE = "idle"  # between requests: uvicorn's keep-alive timeout applies
    HEADERS = "headers"
    BODY = "body"


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a connection cap and request read deadlines.

    Subclassed with its :class:`LoadSettings` by :func:`guarded_protocol`, because uvicorn
    builds each connection's protocol from the class alone.
    """

    limits = LoadSettings()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = _Phase.HEADERS
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the headers' deadline; past the connection cap, refuse what the client asks."""
        super().connection_made(transport)
        cap = self.limits.max_connections
        if cap and len(self.connections) > cap:
            self.app = _OverCapacity(self.app, cap)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Parse what arrived; if it left a request incomplete, make sure a deadline runs."""
        super().data_received(data)
        if self._phase is not _Phase.IDLE and self._deadline is None:
            self._arm()

    def on_message_begin(self) -> None:
        """A request starts: its headers are due."""
        self._phase = _Phase.HEADERS
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        """The headers are whole: the body, if any, is due."""
        self._phase = _Phase.BODY
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The request is whole."""
        self._phase = _Phase.IDLE
        self._disarm()
        super().on_message_complete()

    def _arm(self) -> None:
        phase = self._phase
        timeout_s = (
            self.limits.header_timeout_s if phase is _Phase.HEADERS else self.limits.body_timeout_s
        )
        self._deadline = self.loop.call_later(timeout_s, self._expired, phase, timeout_s)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: _Phase, timeout_s: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        what = "headers" if phase is _Phase.HEADERS else "body"
        logger.debug("%s: request %s not received within %g s", self.client, what, timeout_s)
        if self._may_answer(phase):
            self.transport.write(_timeout_answer(what, timeout_s))
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive answers http.disconnect, its send nothing
            cycle.message_event.set()
        self.transport.close()

    def _may_answer(self, phase: _Phase) -> bool:
        """Whether a 408 would be the next answer on the connection: none has been started for
        this request (its body is late), or every earlier request has its answer (its headers
        are late)."""
        cycle = self.cycle
        if phase is _Phase.BODY:
            return cycle is not None and not cycle.response_started
        return cycle is None or cycle.response_complete


def _timeout_answer(what: str, timeout_s: float) -> bytes:
    body = json.dumps(
        {
            "error": {
                "code": "request_timeout",
                "message": f"the request's {what} did not arrive within {timeout_s:g} s",
            }
        },
        separators=(",", ":"),
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class _OverCapacity:
    """The app of a connection past the cap: every request but ``/healthz`` refused, then the
    connection closed."""

    def __init__(self, app: ASGIApp, max_connections: int) -> None:
        self.app = app
        message = (
            f"the API holds {max_connections} connections, its limit: "
            f"try again in {RETRY_AFTER_S} s"
        )
        headers = {"Retry-After": str(RETRY_AFTER_S), "Connection": "close"}
        self.refusal = error_response(503, "overloaded", message, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request (the probe excepted)."""
        if scope["type"] == "http" and scope["path"] in NEVER_SHED:
            await self.app(scope, receive, send)
        else:
            await self.refusal(scope, receive, send)


def guarded_protocol(limits: LoadSettings) -> type[GuardedHttpProtocol]:
    """The protocol class for uvicorn's ``http=``, with ``limits``."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})
