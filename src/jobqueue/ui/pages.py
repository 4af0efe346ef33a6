"""The dashboard's pages: each a template holding the page's frame and filters (escaped by
Jinja's autoescape); its data arrives over the page's event stream and is drawn by its script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

import jobqueue
from jobqueue.auth.book import TokenBook
from jobqueue.job import JobState
from jobqueue.ui.headers import UI_HEADERS
from jobqueue.ui.principal import viewer_of

TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (
    ("overview", "/ui", "Overview"),
    ("jobs", "/ui/jobs", "Jobs"),
    ("dlq", "/ui/dlq", "Dead letters"),
    ("workers", "/ui/workers", "Workers"),
    ("schedules", "/ui/schedules", "Schedules"),
    ("audit", "/ui/audit", "Audit"),
)
JOB_FILTERS = ("state", "type", "since", "until", "id")
WINDOWS = ("15m", "24h")


def templates() -> jinja2.Environment:
    """The page templates, every value escaped unless a template says otherwise (none does)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Renderer:
    """Renders a page for a request: the template, the viewer, the navigation."""

    def __init__(self, book: TokenBook | None) -> None:
        self.env = templates()
        self.book = book

    @property
    def auth_on(self) -> bool:
        """Whether a token is needed (the book can change its mind as tokens come and go)."""
        return self.book is not None and self.book.required

    def page(self, request: Request, name: str, title: str, **context: Any) -> Response:
        """The page ``name`` (its template ``name.html``) as an HTML answer."""
        html = self.env.get_template(f"{name}.html").render(
            page=name,
            title=title,
            nav=NAV,
            viewer=viewer_of(request),
            auth_on=self.auth_on,
            version=jobqueue.__version__,
            **context,
        )
        return HTMLResponse(html, headers=UI_HEADERS)


def pages_router(renderer: Renderer) -> APIRouter:
    """The page routes."""
    router = APIRouter(include_in_schema=False)

    @router.get("/ui")
    async def overview(request: Request) -> Response:
        window = request.query_params.get("window", "15m")
        window = window if window in WINDOWS else "15m"
        return renderer.page(request, "overview", "Overview", window=window, windows=WINDOWS)

    @router.get("/ui/jobs")
    async def jobs(request: Request) -> Response:
        filters = {name: request.query_params.get(name, "") for name in JOB_FILTERS}
        states = [state.value for state in JobState]
        return renderer.page(request, "jobs", "Jobs", filters=filters, states=states)

    @router.get("/ui/jobs/{job_id}")
    async def job(request: Request, job_id: str) -> Response:
        return renderer.page(request, "job", f"Job {job_id}", job_id=job_id)

    @router.get("/ui/dlq")
    async def dlq(request: Request) -> Response:
        return renderer.page(request, "dlq", "Dead letters")

    @router.get("/ui/workers")
    async def workers(request: Request) -> Response:
        return renderer.page(request, "workers", "Workers")

    @router.get("/ui/schedules")
    async def schedules(request: Request) -> Response:
        return renderer.page(request, "schedules", "Schedules")

    @router.get("/ui/audit")
    async def audit(request: Request) -> Response:
        return renderer.page(request, "audit", "Audit log")

    return router
