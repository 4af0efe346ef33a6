"""The API's documentation pages, Swagger UI and ReDoc, with their assets served by the API itself.

FastAPI's own pages load their scripts from a CDN, so they are blank offline or behind a
firewall; these load the copies vendored under ``static/vendor/`` (see VENDORED.md there).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")
STATIC_PATH = "/static"
DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
REDOC_PATH = "/redoc"

SWAGGER_UI = f"{STATIC_PATH}/vendor/swagger-ui"
REDOC = f"{STATIC_PATH}/vendor/redoc"
FAVICON = f"{SWAGGER_UI}/favicon-32x32.png"

SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
"""Swagger UI's default validator is swagger.io's online one: none, so the page calls nothing
outside the API."""


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (and its OAuth2 redirect), ``/redoc`` and the files under ``/static``.

    Build ``app`` with ``docs_url=None, redoc_url=None``, so FastAPI's CDN pages are not served.
    """
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = root_path(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=root + FAVICON,
            oauth2_redirect_url=root + OAUTH2_REDIRECT_PATH,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    async def swagger_ui_oauth2_redirect(_request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = root_path(request)
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{REDOC}/redoc.standalone.js",
            redoc_favicon_url=root + FAVICON,
            with_google_fonts=False,
        )

    for path, page in [
        (DOCS_PATH, swagger_ui),
        (OAUTH2_REDIRECT_PATH, swagger_ui_oauth2_redirect),
        (REDOC_PATH, redoc),
    ]:
        app.add_route(path, page, methods=["GET"], include_in_schema=False)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static")


async def redirect_to_docs(request: Request) -> RedirectResponse:
    """``GET /``: to the Swagger UI page."""
    return RedirectResponse(root_path(request) + DOCS_PATH)


def root_path(request: Request) -> str:
    """The prefix the app is served under (``--root-path``), as FastAPI's own pages use it."""
    return str(request.scope.get("root_path", "")).rstrip("/")
