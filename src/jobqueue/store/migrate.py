"""Versioned schema migrations: alembic, its scripts inside the package, driven from code.

The store runs them on a connection it already holds (``Connection.run_sync`` from asyncio), so
no ``alembic.ini`` is needed and the migration shares the store's transaction and lock. To add
a revision: write ``migrations/versions/NNNN_what.py`` with ``down_revision`` set to the last
one, and mirror the change in ``tables.py`` (a test checks that both agree).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

VERSION_TABLE = "store_schema_version"
SCRIPT_LOCATION = "jobqueue.store:migrations"

log = logging.getLogger("jobqueue.store")


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An alembic configuration for the store's scripts, bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: sa.Connection) -> None:
    """Apply every revision not yet applied, inside the connection's transaction; an upgrade
    is logged in one line (alembic's own lines are left to ``--log-level debug``)."""
    before = current_revision(connection)
    command.upgrade(alembic_config(connection), "head")
    after = current_revision(connection)
    if after != before:
        log.info("job store schema upgraded from %s to %s", before or "nothing", after)


def current_revision(connection: sa.Connection) -> str | None:
    """The revision applied to the database, or None when the schema was never created."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def head_revision() -> str | None:
    """The newest revision this version of jobqueue knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
