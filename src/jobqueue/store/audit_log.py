"""The store's audit log: append entries, page through them newest first, expire old ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from jobqueue.auth.records import AuditEntry, AuditPage
from jobqueue.store import cursors
from jobqueue.store.tables import audit

MAX_PAGE = 1000


def append(connection: sa.Connection, entries: Sequence[AuditEntry]) -> None:
    """Store ``entries`` (an entry id seen before is a no-op)."""
    for entry in entries:
        exists = connection.execute(
            sa.select(audit.c.entry_id).where(audit.c.entry_id == entry.entry_id)
        ).first()
        if exists is None:
            connection.execute(sa.insert(audit).values(**_row(entry)))


def page(
    connection: sa.Connection, limit: int, cursor: str | None, actor: str | None = None
) -> AuditPage:
    """Up to ``limit`` entries newest first after ``cursor``, of ``actor`` alone if given."""
    limit = max(1, min(limit, MAX_PAGE))
    query = sa.select(audit).order_by(audit.c.at.desc(), audit.c.entry_id.desc())
    if actor is not None:
        query = query.where(audit.c.actor == actor)
    if cursor is not None:
        at, entry_id = cursors.decode(cursor)
        query = query.where(
            sa.or_(audit.c.at < at, sa.and_(audit.c.at == at, audit.c.entry_id < entry_id))
        )
    rows = list(connection.execute(query.limit(limit + 1)))
    entries = [_entry(row) for row in rows[:limit]]
    more = len(rows) > limit
    return AuditPage(
        entries, cursors.encode(entries[-1].at, entries[-1].entry_id) if more else None
    )


def purge_before(connection: sa.Connection, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` entries older than ``cutoff``; returns how many went."""
    old = sa.select(audit.c.entry_id).where(audit.c.at < cutoff).limit(limit).scalar_subquery()
    return connection.execute(sa.delete(audit).where(audit.c.entry_id.in_(old))).rowcount


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "at": entry.at,
        "actor": entry.actor,
        "token_id": entry.token_id,
        "action": entry.action,
        "target": entry.target,
        "count": entry.count,
        "client": entry.client,
        "status": entry.status,
        "detail": entry.detail,
    }


def _entry(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry(
        entry_id=row.entry_id,
        at=row.at,
        actor=row.actor,
        token_id=row.token_id,
        action=row.action,
        target=row.target,
        count=row._mapping["count"],
        client=row.client,
        status=row.status,
        detail=row.detail,
    )
