"""Per-minute job counts, wait and run time buckets, and queue depths (metrics and charts).

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``store_job_counts``, ``store_job_timings`` and ``store_queue_depths``."""
    op.create_table(
        "store_job_counts",
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("queue", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, primary_key=True),
        sa.Column("outcome", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "store_job_timings",
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("queue", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, primary_key=True),
        sa.Column("measure", sa.Text, primary_key=True),
        sa.Column("le", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("sum_s", sa.Float, nullable=False),
    )
    op.create_table(
        "store_queue_depths",
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("queue", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("store_queue_depths")
    op.drop_table("store_job_timings")
    op.drop_table("store_job_counts")
