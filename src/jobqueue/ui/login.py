"""``/ui/login`` takes an API token and keeps it in an HttpOnly, SameSite=Strict cookie (Secure
over TLS); ``/ui/logout`` clears it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from jobqueue.auth.book import TokenBook
from jobqueue.auth.scopes import Scope as TokenScope
from jobqueue.auth.session import LOGIN_PATH, SESSION_COOKIE, encode_session
from jobqueue.ui.headers import UI_HEADERS
from jobqueue.ui.pages import Renderer

MAX_FORM_BYTES = 8192
SESSION_MAX_AGE_S = 12 * 3600


def safe_next(target: str) -> str:
    """Where to go after logging in: a dashboard path of this site, else the overview."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/ui") or target.startswith("//"):
        return "/ui"
    return target if not target.startswith(LOGIN_PATH) else "/ui"


def same_origin(request: Request) -> bool:
    """Whether a form post comes from a page of this site (no ``Origin``: not a browser's
    cross-site post, which always sends one)."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def login_router(renderer: Renderer, book: TokenBook | None) -> APIRouter:
    """The login and logout routes; with no token book (or one that needs no token), logging
    in has nothing to do."""
    router = APIRouter(include_in_schema=False)

    @router.get(LOGIN_PATH)
    async def login_page(request: Request) -> Response:
        target = safe_next(request.query_params.get("next", "/ui"))
        if not renderer.auth_on:
            return RedirectResponse(target, 303, UI_HEADERS)
        return renderer.page(request, "login", "Sign in", next=target, problem="")

    @router.post(LOGIN_PATH)
    async def login(request: Request) -> Response:
        body = (await request.body())[:MAX_FORM_BYTES].decode("utf-8", "replace")
        form = {name: values[0] for name, values in parse_qs(body).items()}
        target = safe_next(form.get("next", "/ui"))
        if not renderer.auth_on:
            return RedirectResponse(target, 303, UI_HEADERS)
        token = form.get("token", "").strip()
        problem = _refusal(book, token, same_origin(request))
        if problem:
            response = renderer.page(request, "login", "Sign in", next=target, problem=problem)
            response.status_code = 401
            return response
        response = RedirectResponse(target, 303, UI_HEADERS)
        response.set_cookie(
            SESSION_COOKIE,
            encode_session(token),
            max_age=SESSION_MAX_AGE_S,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @router.post("/ui/logout")
    async def logout(request: Request) -> Response:
        response = RedirectResponse(LOGIN_PATH, 303, UI_HEADERS)
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    return router


def _refusal(book: TokenBook | None, token: str, same_site: bool) -> str:
    if not same_site:
        return "sign in from this dashboard's own page"
    principal = book.verify(token) if book is not None and token else None
    if principal is None:
        return "that token is not valid"
    if not principal.may(TokenScope.READ):
        return "that token lacks the 'read' scope the dashboard needs"
    return ""
