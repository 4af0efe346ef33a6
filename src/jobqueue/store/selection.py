"""Which jobs a listing or a bulk action means: a :class:`JobFilter`, as SQL conditions.

Every filter keeps to an index: state and type lead ``store_jobs_state_type_created`` (and
the state or type indexes alone), the submitted-time range follows ``created_at`` in each of
them, and an id prefix is a range of the primary key on SQLite (whose text order is the
bytes'). PostgreSQL matches a prefix with ``LIKE``, exact under any collation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from jobqueue.job import JobState
from jobqueue.store.tables import jobs

_BEYOND = "\U0010ffff"  # above every character, so ``prefix + _BEYOND`` bounds the prefix


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Jobs in ``state``, of ``type``, submitted at ``since`` or later and before ``until``,
    whose id starts with ``id_prefix`` (a whole id names one job); None: any."""

    state: JobState | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    id_prefix: str | None = None


def conditions(dialect: str, job_filter: JobFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions of ``job_filter`` on ``store_jobs`` in ``dialect``."""
    found: list[sa.ColumnElement[bool]] = []
    if job_filter.state is not None:
        found.append(jobs.c.state == JobState(job_filter.state).value)
    if job_filter.type is not None:
        found.append(jobs.c.type == job_filter.type)
    if job_filter.since is not None:
        found.append(jobs.c.created_at >= job_filter.since)
    if job_filter.until is not None:
        found.append(jobs.c.created_at < job_filter.until)
    if job_filter.id_prefix:
        found += _id_prefix(dialect, job_filter.id_prefix)
    return found


def _id_prefix(dialect: str, prefix: str) -> list[sa.ColumnElement[bool]]:
    if dialect == "sqlite":
        return [jobs.c.id >= prefix, jobs.c.id < prefix + _BEYOND]
    return [jobs.c.id.startswith(prefix, autoescape=True)]


def matching_ids(connection: sa.Connection, job_filter: JobFilter, limit: int) -> list[str]:
    """The ids of at most ``limit`` jobs matching, newest first (the listing's order)."""
    query = (
        sa.select(jobs.c.id)
        .where(*conditions(connection.dialect.name, job_filter))
        .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
        .limit(max(0, limit))
    )
    return list(connection.execute(query).scalars())
