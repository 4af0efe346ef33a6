"""Cron schedules and their fired ticks (the unique (schedule, tick) claim).

Revision ID: 0007
Revises: 0006
Create Date: 2027-02-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create ``store_schedules`` and ``store_schedule_ticks``."""
    op.create_table(
        "store_schedules",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("cron", sa.Text, nullable=False),
        sa.Column("zone", sa.Text, nullable=False),
        sa.Column("job_type", sa.Text, nullable=False),
        sa.Column("payload", sa.Text),
        sa.Column("max_attempts", sa.Integer),
        sa.Column("missed", sa.Text, nullable=False),
        sa.Column("overlap", sa.Text, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        _time("next_run_at"),
        _time("last_tick_at"),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
    )
    op.create_index("store_schedules_next_run", "store_schedules", ["next_run_at"])
    op.create_table(
        "store_schedule_ticks",
        sa.Column("schedule", sa.Text, nullable=False),
        _time("tick_at", nullable=False),
        sa.Column("job_id", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("missed", sa.Integer, nullable=False),
        _time("fired_at", nullable=False),
        sa.PrimaryKeyConstraint("schedule", "tick_at"),
    )
    op.create_index("store_schedule_ticks_job", "store_schedule_ticks", ["job_id"])
    op.create_index("store_schedule_ticks_at", "store_schedule_ticks", ["tick_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("store_schedule_ticks_at", table_name="store_schedule_ticks")
    op.drop_index("store_schedule_ticks_job", table_name="store_schedule_ticks")
    op.drop_table("store_schedule_ticks")
    op.drop_index("store_schedules_next_run", table_name="store_schedules")
    op.drop_table("store_schedules")
