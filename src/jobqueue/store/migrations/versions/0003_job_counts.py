"""Per-minute job counts by queue, type and outcome (the metrics' totals and the charts).

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
    """Create ``store_job_counts``."""
    op.create_table(
        "store_job_counts",
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("queue", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, primary_key=True),
        sa.Column("outcome", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("store_job_counts")
