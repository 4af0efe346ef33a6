"""Fleet-wide concurrency and rate limits: the leased slots, the token buckets, and why a
waiting job was deferred.

Revision ID: 0008
Revises: 0007
Create Date: 2027-02-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``store_jobs.waiting_reason``, ``store_limit_slots`` and ``store_limit_buckets``."""
    op.add_column("store_jobs", sa.Column("waiting_reason", sa.Text))
    op.create_table(
        "store_limit_slots",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("slot_id", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "store_limit_buckets",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("store_limit_buckets")
    op.drop_table("store_limit_slots")
    with op.batch_alter_table("store_jobs") as batch:
        batch.drop_column("waiting_reason")
