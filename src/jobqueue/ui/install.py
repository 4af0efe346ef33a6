"""``install_ui``: the dashboard's pages, event stream, login and assets, mounted on the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobqueue.auth.http import HttpAuth
from jobqueue.ui.broadcast import Broadcaster
from jobqueue.ui.headers import UI_HEADERS
from jobqueue.ui.login import login_router
from jobqueue.ui.pages import Renderer, pages_router
from jobqueue.ui.snapshots import Snapshots
from jobqueue.ui.stream import stream_router

STATIC = Path(__file__).resolve().parent / "static"
_HEADERS = [(name.lower().encode(), value.encode()) for name, value in UI_HEADERS.items()]


class UiHeaders:
    """Adds the dashboard's security headers to every ``/ui`` answer that lacks them (its
    static files and error answers included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve, adding the headers to the answer of a ``/ui`` path."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/ui" or path.startswith("/ui/")):
            await self.app(scope, receive, send)
            return

        async def adding(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in _HEADERS if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, adding)


def ungated(app: FastAPI) -> ASGIApp:
    """``app`` without the token gate in front: for the stream's reads, already authorised."""

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(app, scope, receive, send)

    return call


def install_ui(app: FastAPI, auth: HttpAuth | None = None) -> Broadcaster:
    """Serve the dashboard under ``/ui`` on ``app``; its broadcaster, for the curious."""
    book = None if auth is None else auth.book
    renderer = Renderer(book)
    broadcaster = Broadcaster(Snapshots(ungated(app)).compute)
    app.state.ui_broadcaster = broadcaster
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.include_router(login_router(renderer, book))
    app.include_router(stream_router(broadcaster, book))
    app.include_router(pages_router(renderer))
    app.add_middleware(UiHeaders)
    return broadcaster
