"""The event merge of :mod:`jobqueue.store.events` as SQL: the SET of one INSERT ... ON CONFLICT.

``x`` is the proposed row (``excluded``: the state one batch of events implies) and ``t`` the
stored row. SQL evaluates every SET expression against the row as it was, so each column below
reads like the matching line of :func:`jobqueue.store.events.merge`. The same statement runs on
SQLite and PostgreSQL: only CASE, COALESCE and comparisons.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from jobqueue.store.events import TERMINAL_RANK
from jobqueue.store.tables import jobs

_MAIN_COLUMNS = (
    *("state", "rank", "rank_at", "next_attempt_at", "result", "finished_at"),
    "waiting_reason",
)
_PROGRESS_COLUMNS = ("progress", "progress_message", "progress_attempt", "progress_at")
_ERROR_COLUMNS = ("error", "error_rank", "error_at")

Columns = sa.ColumnCollection[str, sa.ColumnElement[Any]]


def _const(value: int) -> ColumnElement[int]:
    """An integer written into the SQL text, so the statement binds nothing but the row."""
    return sa.literal_column(str(value), sa.BigInteger)


_NONE = _const(-1)
_TERMINAL = _const(TERMINAL_RANK)
_ONE = _const(1)


def _later(x_key: Any, t_key: Any, x_at: Any, t_at: Any) -> ColumnElement[bool]:
    """``(x_key, x_at) > (t_key, t_at)`` without row values, NULL keys on ``t`` losing."""
    return sa.or_(x_key > sa.func.coalesce(t_key, _NONE), sa.and_(x_key == t_key, x_at > t_at))


def merge_set(x: Columns) -> dict[str, Any]:
    """The ``set_`` of the upsert that merges the proposed row ``x`` into ``store_jobs``."""
    t = jobs.c
    supersedes = sa.and_(t.rank < _TERMINAL, _later(x.rank, t.rank, x.rank_at, t.rank_at))
    attempts = sa.case((x.attempts > t.attempts, x.attempts), else_=t.attempts)
    values: dict[str, Any] = {
        name: sa.case((supersedes, x[name]), else_=t[name]) for name in _MAIN_COLUMNS
    }
    values["worker_id"] = sa.case(
        (sa.and_(supersedes, x.worker_id.is_not(None)), x.worker_id), else_=t.worker_id
    )
    values["attempts"] = attempts
    values["updated_at"] = sa.case((x.updated_at > t.updated_at, x.updated_at), else_=t.updated_at)
    values["started_at"] = sa.case(
        (sa.or_(t.started_at.is_(None), x.started_at < t.started_at), x.started_at),
        else_=t.started_at,
    )
    values.update(_progress_set(x, attempts))
    values.update(_error_set(x))
    values["max_attempts"] = sa.func.coalesce(t.max_attempts, x.max_attempts)
    return values


def _progress_set(x: Columns, attempts: ColumnElement[Any]) -> dict[str, Any]:
    t = jobs.c
    take = sa.and_(
        x.progress_attempt.is_not(None),
        _later(x.progress_attempt, t.progress_attempt, x.progress_at, t.progress_at),
    )
    # Progress is shown only while it belongs to the newest attempt started.
    x_current = x.progress_attempt + _ONE >= attempts
    t_current = t.progress_attempt + _ONE >= attempts
    return {
        name: sa.case(
            (take, sa.case((x_current, x[name]), else_=sa.null())),
            (t_current, t[name]),
            else_=sa.null(),
        )
        for name in _PROGRESS_COLUMNS
    }


def _error_set(x: Columns) -> dict[str, Any]:
    t = jobs.c
    take = sa.and_(
        x.error_rank.is_not(None), _later(x.error_rank, t.error_rank, x.error_at, t.error_at)
    )
    return {name: sa.case((take, x[name]), else_=t[name]) for name in _ERROR_COLUMNS}
