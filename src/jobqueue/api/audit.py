"""The audit log route: ``GET /audit``, the admin actions newest first, paged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from jobqueue.api.schemas import error_responses, json_response
from jobqueue.auth.records import AuditEntry
from jobqueue.store import Store
from jobqueue.store.events import to_iso

MAX_LIMIT = 1000


class AuditEntryOut(BaseModel):
    """One admin action."""

    id: str
    at: str = Field(description="When, ISO 8601 UTC.")
    actor: str = Field(description="The token's name ('anonymous' where auth is off).")
    token_id: str | None = Field(description="The token's public id.")
    action: str = Field(description="What was done, e.g. job.cancel, dlq.purge, worker.drain.")
    target: str = Field(description="On what: a job id, a worker id, 'all'.")
    count: int | None = Field(description="How many things it touched, when it says.")
    client: str = Field(description="The client's address.")
    status: int = Field(description="The HTTP status it was answered (403: refused).")
    detail: dict[str, Any] | None = Field(
        None, description="What else the action said of itself (a bulk action's counts)."
    )


class AuditPageOut(BaseModel):
    """A page of the audit log, newest first."""

    entries: list[AuditEntryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: end.")


def entry_view(entry: AuditEntry) -> dict[str, object]:
    """An entry as the API shows it."""
    return {
        "id": entry.entry_id,
        "at": to_iso(entry.at),
        "actor": entry.actor,
        "token_id": entry.token_id,
        "action": entry.action,
        "target": entry.target,
        "count": entry.count,
        "client": entry.client,
        "status": entry.status,
        "detail": entry.detail,
    }


def audit_router(store: Store) -> APIRouter:
    """``GET /audit`` over the store's audit log."""
    router = APIRouter(tags=["audit"])

    @router.get("/audit", response_model=AuditPageOut, responses=error_responses(400, 422, 503))
    async def list_audit(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        actor: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    ) -> Response:
        """Who did which admin action when, newest first (needs the admin scope)."""
        page = await store.audit(limit, cursor, actor)
        return json_response(
            {
                "entries": [entry_view(entry) for entry in page.entries],
                "next_cursor": page.next_cursor,
            }
        )

    return router
