"""Delayed and unique jobs: a job's ``run_at``, the table of scheduled jobs waiting for it (by
due time), and the table of unique keys.

Revision ID: 0005
Revises: 0004
Create Date: 2027-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Add ``store_jobs.run_at``, ``store_scheduled`` and ``store_unique_keys``."""
    op.add_column("store_jobs", _time("run_at"))
    op.create_table(
        "store_scheduled",
        sa.Column("job_id", sa.Text, primary_key=True),
        _time("run_at", nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("headers", sa.Text),
    )
    op.create_index("store_scheduled_run_at", "store_scheduled", ["run_at", "job_id"])
    op.create_table(
        "store_unique_keys",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("hold", sa.Text, nullable=False),
        _time("expires_at"),
        _time("created_at", nullable=False),
    )
    op.create_index("store_unique_keys_created", "store_unique_keys", ["created_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("store_unique_keys_created", table_name="store_unique_keys")
    op.drop_table("store_unique_keys")
    op.drop_index("store_scheduled_run_at", table_name="store_scheduled")
    op.drop_table("store_scheduled")
    with op.batch_alter_table("store_jobs") as batch:
        batch.drop_column("run_at")
