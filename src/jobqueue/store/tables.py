"""The store's tables as the code sees them (the migrations create them; a test checks both)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from jobqueue import codec

metadata = sa.MetaData()


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes; stored naive-UTC on SQLite so text order is time order."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC (and drop the zone on SQLite, which cannot keep it)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Give back an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JsonText(sa.TypeDecorator[Any]):
    """JSON kept as text, written and read with :mod:`jobqueue.codec` so numbers stay exact."""

    impl = sa.Text()
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Encode (None stays SQL NULL)."""
        return None if value is None else codec.dumps(value).decode("utf-8")

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """Decode."""
        return None if value is None else codec.loads(value)


jobs = sa.Table(
    "store_jobs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("rank", sa.BigInteger, nullable=False),
    sa.Column("rank_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer),
    sa.Column("priority", sa.Integer),  # NULL until the submission is recorded: shown as 0
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("worker_id", sa.Text),
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("result", JsonText),
    sa.Column("progress", sa.Float),
    sa.Column("progress_message", sa.Text),
    sa.Column("progress_attempt", sa.Integer),
    sa.Column("progress_at", UtcDateTime),
    sa.Column("error", sa.Text),
    sa.Column("error_rank", sa.BigInteger),
    sa.Column("error_at", UtcDateTime),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("payload", JsonText),
    sa.Column("waiting_reason", sa.Text),  # why a waiting job was deferred (jobqueue.limits)
    sa.Column("run_at", UtcDateTime),
    sa.Index("store_jobs_created", "created_at", "id"),
    sa.Index("store_jobs_state_created", "state", "created_at", "id"),
    sa.Index("store_jobs_type_created", "type", "created_at", "id"),
    sa.Index("store_jobs_state_type_created", "state", "type", "created_at", "id"),
    sa.Index("store_jobs_finished", "finished_at"),
)

events = sa.Table(
    "store_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("job_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("rank", sa.BigInteger, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("job_type", sa.Text, nullable=False),
    sa.Column("worker_id", sa.Text),
    sa.Column("data", JsonText, nullable=False),
    sa.Index("store_events_job", "job_id", "at"),
)

scheduled = sa.Table(  # delayed jobs waiting for their run_at; a row leaves once published
    "store_scheduled",
    metadata,
    sa.Column("job_id", sa.Text, primary_key=True),
    sa.Column("run_at", UtcDateTime, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the job's wire body, published as it is
    sa.Column("headers", JsonText),  # its message headers (the submission's trace context)
    sa.Index("store_scheduled_run_at", "run_at", "job_id"),
)

unique_keys = sa.Table(  # unique jobs: the job that holds each key, and for how long
    "store_unique_keys",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("job_id", sa.Text, nullable=False),
    sa.Column("hold", sa.Text, nullable=False),  # "for" (until expires_at), "queued", "running"
    sa.Column("expires_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("store_unique_keys_created", "created_at"),
)

idempotency_keys = sa.Table(
    "store_idempotency_keys",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("body_hash", sa.Text, nullable=False),
    sa.Column("job_id", sa.Text, nullable=False),
    sa.Column("confirmed", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("store_idempotency_keys_created", "created_at"),
)

tokens = sa.Table(
    "store_tokens",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("token_id", sa.Text, nullable=False, unique=True),
    sa.Column("salt", sa.LargeBinary, nullable=False),
    sa.Column("digest", sa.LargeBinary, nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
)

audit = sa.Table(
    "store_audit",
    metadata,
    sa.Column("entry_id", sa.Text, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("token_id", sa.Text),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("count", sa.Integer),
    sa.Column("client", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("detail", JsonText),
    sa.Index("store_audit_at", "at", "entry_id"),
)

job_counts = sa.Table(
    "store_job_counts",
    metadata,
    sa.Column("minute", UtcDateTime, primary_key=True),
    sa.Column("queue", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, primary_key=True),
    sa.Column("outcome", sa.Text, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

job_timings = sa.Table(
    "store_job_timings",
    metadata,
    sa.Column("minute", UtcDateTime, primary_key=True),
    sa.Column("queue", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, primary_key=True),
    sa.Column("measure", sa.Text, primary_key=True),  # "wait" or "run"
    sa.Column("le", sa.Text, primary_key=True),  # the bucket's upper bound: "0.5", ..., "+Inf"
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("sum_s", sa.Float, nullable=False),
)

queue_depths = sa.Table(
    "store_queue_depths",
    metadata,
    sa.Column("minute", UtcDateTime, primary_key=True),
    sa.Column("queue", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

limit_slots = sa.Table(  # fleet-wide concurrency limits: one row per running job, leased
    "store_limit_slots",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),  # the job type, or type and key
    sa.Column("slot_id", sa.Text, primary_key=True),  # the job id
    sa.Column("holder", sa.Text, nullable=False),  # the worker id
    sa.Column("expires_at", sa.Float, nullable=False),  # Unix seconds: the lease's end
)

limit_buckets = sa.Table(  # fleet-wide rate limits: one token bucket per name
    "store_limit_buckets",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),  # Unix seconds
)

schedules = sa.Table(  # cron schedules (jobqueue.schedule), declared in code or over HTTP
    "store_schedules",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("cron", sa.Text, nullable=False),
    sa.Column("zone", sa.Text, nullable=False),
    sa.Column("job_type", sa.Text, nullable=False),
    sa.Column("payload", JsonText),
    sa.Column("max_attempts", sa.Integer),
    sa.Column("missed", sa.Text, nullable=False),  # "skip" or "run_once"
    sa.Column("overlap", sa.Text, nullable=False),  # "allow" or "skip"
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # "code" or "api"
    sa.Column("next_run_at", UtcDateTime),  # the tick to fire next (claimed by compare-and-set)
    sa.Column("last_tick_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("store_schedules_next_run", "next_run_at"),
)

schedule_ticks = sa.Table(  # one row per fired tick: the (schedule, tick) claim, and its job
    "store_schedule_ticks",
    metadata,
    sa.Column("schedule", sa.Text, primary_key=True),
    sa.Column("tick_at", UtcDateTime, primary_key=True),
    sa.Column("job_id", sa.Text),  # NULL when the tick was skipped (overlap)
    sa.Column("outcome", sa.Text, nullable=False),  # "fired", "caught_up", "run_now", "skipped"
    sa.Column("missed", sa.Integer, nullable=False),  # ticks this run stands in for (run_once)
    sa.Column("fired_at", UtcDateTime, nullable=False),
    sa.Index("store_schedule_ticks_job", "job_id"),
    sa.Index("store_schedule_ticks_at", "tick_at"),
)
