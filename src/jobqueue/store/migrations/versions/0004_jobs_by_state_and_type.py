"""An index of jobs by state and type, newest first: listings and bulk actions filtered by both.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-20
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``store_jobs_state_type_created``."""
    op.create_index(
        "store_jobs_state_type_created", "store_jobs", ["state", "type", "created_at", "id"]
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_index("store_jobs_state_type_created", table_name="store_jobs")
