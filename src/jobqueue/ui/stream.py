"""``GET /ui/stream?page=KIND&...``: one Server-Sent Events stream per open page, fed by the
shared broadcaster (the whole snapshot first, then only the sections that change)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from jobqueue.api.errors import error_response
from jobqueue.auth.scopes import Scope as TokenScope
from jobqueue.ui.broadcast import Broadcaster, TopicKey
from jobqueue.ui.headers import UI_HEADERS
from jobqueue.ui.principal import principal_of
from jobqueue.ui.snapshots import PAGES, topic_key

KEEPALIVE_S = 20.0
"""A comment this often keeps proxies from closing an idle stream."""
RETRY_MS = 3000
STREAM_HEADERS = {**UI_HEADERS, "Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def stream_router(broadcaster: Broadcaster) -> APIRouter:
    """The event stream route over ``broadcaster``."""
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
        return StreamingResponse(
            _events(broadcaster, key), media_type="text/event-stream", headers=STREAM_HEADERS
        )

    return router


async def _events(broadcaster: Broadcaster, key: TopicKey) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MS}\n\n".encode()
    async with broadcaster.listen(key) as queue:
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                message = b": keepalive\n\n"
            yield message
