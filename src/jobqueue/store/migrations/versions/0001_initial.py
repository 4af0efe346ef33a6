"""The first schema: jobs, their event history, and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "store_jobs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("rank", sa.BigInteger, nullable=False),
        _time("rank_at", nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _time("started_at"),
        _time("finished_at"),
        sa.Column("worker_id", sa.Text),
        _time("next_attempt_at"),
        sa.Column("result", sa.Text),
        sa.Column("progress", sa.Float),
        sa.Column("progress_message", sa.Text),
        sa.Column("progress_attempt", sa.Integer),
        _time("progress_at"),
        sa.Column("error", sa.Text),
        sa.Column("error_rank", sa.BigInteger),
        _time("error_at"),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("payload", sa.Text),
    )
    op.create_index("store_jobs_created", "store_jobs", ["created_at", "id"])
    op.create_index("store_jobs_state_created", "store_jobs", ["state", "created_at", "id"])
    op.create_index("store_jobs_type_created", "store_jobs", ["type", "created_at", "id"])
    op.create_index("store_jobs_finished", "store_jobs", ["finished_at"])
    op.create_table(
        "store_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("rank", sa.BigInteger, nullable=False),
        _time("at", nullable=False),
        sa.Column("job_type", sa.Text, nullable=False),
        sa.Column("worker_id", sa.Text),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("store_events_job", "store_events", ["job_id", "at"])
    op.create_table(
        "store_idempotency_keys",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("body_hash", sa.Text, nullable=False),
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("confirmed", sa.Boolean, nullable=False),
        _time("created_at", nullable=False),
    )
    op.create_index("store_idempotency_keys_created", "store_idempotency_keys", ["created_at"])


def downgrade() -> None:
    """Drop everything the upgrade created."""
    op.drop_table("store_idempotency_keys")
    op.drop_table("store_events")
    op.drop_table("store_jobs")
