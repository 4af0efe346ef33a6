"""Alembic environment of the store: migrates on the connection the store hands over."""

from __future__ import annotations

from alembic import context

from jobqueue.store.migrate import VERSION_TABLE
from jobqueue.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the store migrates through jobqueue.store.migrate (jobqueue db upgrade)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
