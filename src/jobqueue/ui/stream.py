"""``GET /ui/stream?page=KIND&...``: one Server-Sent Events stream per open page, fed by the
shared broadcaster (the whole snapshot first, then only the sections that change)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from jobqueue.api.errors import error_response
from jobqueue.auth.book import TokenBook
from jobqueue.auth.scopes import Scope as TokenScope
from jobqueue.auth.session import presented_token
from jobqueue.ui.broadcast import END, Broadcaster, TopicKey
from jobqueue.ui.headers import UI_HEADERS
from jobqueue.ui.principal import principal_of
from jobqueue.ui.snapshots import PAGES, topic_key

KEEPALIVE_S = 20.0
"""A comment this often keeps proxies from closing an idle stream."""
RETRY_MS = 3000
STREAM_HEADERS = {**UI_HEADERS, "Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def stream_router(broadcaster: Broadcaster, book: TokenBook | None = None) -> APIRouter:
    """The event stream route over ``broadcaster``; with a ``book``, a stream whose token is
    revoked ends (the browser's reconnection is then refused and the page says so)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/ui/stream")
    async def stream(request: Request) -> Response:
        page = request.query_params.get("page", "")
        kind = PAGES.get(page)
        if kind is None:
            known = ", ".join(PAGES)
            return error_response(400, "bad_request", f"page must be one of {known}")
        if kind.admin and not principal_of(request).may(TokenScope.ADMIN):
            return error_response(403, "forbidden", f"the {page} page needs the 'admin' scope")
        key = topic_key(page, request.query_params)
        valid = token_validity(book, presented_token(request.scope))
        return StreamingResponse(
            stream_events(broadcaster, key, valid),
            media_type="text/event-stream",
            headers=STREAM_HEADERS,
        )

    return router


def token_validity(book: TokenBook | None, token: str | None) -> Callable[[], bool]:
    """Whether ``token`` still opens the API (always, with no book or no token)."""
    if book is None or token is None:
        return lambda: True
    return lambda: not book.required or book.verify(token) is not None


async def stream_events(
    broadcaster: Broadcaster, key: TopicKey, valid: Callable[[], bool]
) -> AsyncIterator[bytes]:
    """The stream's messages: the broadcaster's for ``key``, keepalives between them, while
    ``valid()`` holds."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    async with broadcaster.listen(key) as queue:
        while valid():
            try:
                message = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                message = b": keepalive\n\n"
            if message == END:
                return
            yield message
