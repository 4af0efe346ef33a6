"""A job's priority (0 to 9, higher first), as submitted; NULL in records from before it.

Revision ID: 0006
Revises: 0005
Create Date: 2027-02-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``store_jobs.priority``."""
    op.add_column("store_jobs", sa.Column("priority", sa.Integer))


def downgrade() -> None:
    """Drop it."""
    op.drop_column("store_jobs", "priority")
