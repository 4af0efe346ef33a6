"""What each page kind shows, read through the API's own JSON routes (called in process, behind
the gate the stream already passed), so the dashboard sees exactly what the API answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from starlette.types import ASGIApp

from jobqueue import codec
from jobqueue.ui.broadcast import TopicKey

Section = dict[str, Any]
"""``{"status": HTTP status, "body": the JSON answer}``: the page tells a route missing (404)
or refusing from the data it shows."""
Fetch = Callable[[str, Mapping[str, str]], Awaitable[Section]]
Build = Callable[[Fetch, dict[str, str]], Awaitable[dict[str, Section]]]

DLQ_LIST_LIMIT = "50"
JOBS_PAGE_LIMIT = "50"
AUDIT_PAGE_LIMIT = "100"
WORKERS_LIMIT = "1000"
SCHEDULE_LAST_RUNS = "5"


@dataclass(frozen=True, slots=True)
class PageKind:
    """A page kind: the query parameters its stream takes, and how its snapshot is read."""

    params: tuple[str, ...]
    build: Build
    admin: bool = False


async def _overview(fetch: Fetch, query: dict[str, str]) -> dict[str, Section]:
    stats = await fetch("/stats/overview", {"window": query.get("window", "15m")})
    if isinstance(stats["body"], dict):
        stats["body"].pop("now_unix", None)  # changes every tick, and nothing depends on it
    return {"stats": stats}


async def _jobs(fetch: Fetch, query: dict[str, str]) -> dict[str, Section]:
    return {"jobs": await fetch("/jobs", {**query, "limit": JOBS_PAGE_LIMIT})}


async def _job(fetch: Fetch, query: dict[str, str]) -> dict[str, Section]:
    job_path = "/jobs/" + quote(query.get("id", ""), safe="")
    job = await fetch(job_path, {})
    sections = {"job": job, "events": await fetch(job_path + "/events", {})}
    if job["status"] == 200 and job["body"].get("state") == "dead":
        sections["dead"] = await fetch("/dlq/" + quote(query.get("id", ""), safe=""), {})
    return sections


async def _dlq(fetch: Fetch, query: dict[str, str]) -> dict[str, Section]:
    groups = await fetch("/dlq/groups", {"scan": query["scan"]} if "scan" in query else {})
    return {"groups": groups, "dead": await fetch("/dlq", {"limit": DLQ_LIST_LIMIT})}


async def _workers(fetch: Fetch, query: dict[str, str]) -> dict[str, Section]:
    return {"workers": await fetch("/workers", {"limit": WORKERS_LIMIT})}


async def _schedules(fetch: Fetch, query: dict[str, str]) -> dict[str, Section]:
    return {"schedules": await fetch("/schedules", {"runs": "3", "last": SCHEDULE_LAST_RUNS})}


async def _audit(fetch: Fetch, query: dict[str, str]) -> dict[str, Section]:
    return {"audit": await fetch("/audit", {**query, "limit": AUDIT_PAGE_LIMIT})}


PAGES: dict[str, PageKind] = {
    "overview": PageKind(("window",), _overview),
    "jobs": PageKind(("state", "type", "since", "until", "id", "cursor"), _jobs),
    "job": PageKind(("id",), _job),
    "dlq": PageKind(("scan",), _dlq),
    "workers": PageKind((), _workers),
    "schedules": PageKind((), _schedules),
    "audit": PageKind(("cursor",), _audit, admin=True),
}


def topic_key(page: str, query: Mapping[str, str]) -> TopicKey:
    """The topic of ``page`` with the parameters it takes from ``query`` (empty ones dropped)."""
    taken = PAGES[page].params
    return page, tuple(sorted((name, query[name]) for name in taken if query.get(name)))


class Snapshots:
    """Reads each page kind's sections from the API app itself."""

    def __init__(self, app: ASGIApp) -> None:
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://jobqueue.internal")

    async def fetch(self, path: str, params: Mapping[str, str]) -> Section:
        """One route's answer, as a section."""
        response = await self.client.get(path, params=dict(params))
        try:
            body = codec.loads(response.content)
        except ValueError:
            body = None
        return {"status": response.status_code, "body": body}

    async def compute(self, key: TopicKey) -> dict[str, Any]:
        """The sections of one topic."""
        page, query = key
        return await PAGES[page].build(self.fetch, dict(query))
