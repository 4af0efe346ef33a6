"""Schema migrations: they build exactly the tables the code uses, run once, and serialise."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from jobqueue.store import from_url
from jobqueue.store.engine import parse_url, postgres_engine, sqlite_engine
from jobqueue.store.migrate import VERSION_TABLE, alembic_config, head_revision
from jobqueue.store.tables import metadata
from tests.services import POSTGRES_URL
from tests.store.conftest import drop_schema


def schema_differences(connection: sa.Connection) -> list[Any]:
    """What alembic's autogenerate would change to make the database match ``tables.py``."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
    )
    return list(compare_metadata(context, metadata))


async def differences(url: str) -> list[Any]:
    """Upgrade a fresh store at ``url``, then compare its schema with the code's tables."""
    store = from_url(url)
    await store.connect()
    await store.upgrade()
    await store.close()
    target = parse_url(url)
    if target.dialect == "sqlite":
        engine = sqlite_engine(target, pool_size=1)
        try:
            with engine.connect() as connection:
                return schema_differences(connection)
        finally:
            engine.dispose()
    async_engine = postgres_engine(target)
    try:
        async with async_engine.connect() as connection:
            return await connection.run_sync(schema_differences)
    finally:
        await async_engine.dispose()


async def concurrent_upgrades(url: str, count: int) -> list[str | None]:
    """Upgrade one fresh database from ``count`` stores at once; their revisions after."""
    stores = [from_url(url) for _ in range(count)]
    for store in stores:
        await store.connect()
    try:
        assert await stores[0].schema_version() is None
        await asyncio.gather(*(store.upgrade() for store in stores))
        return [await store.schema_version() for store in stores]
    finally:
        for store in stores:
            await store.close()


def test_there_is_one_head_revision() -> None:
    assert head_revision() == "0008"  # 0008: fleet-wide concurrency and rate limits


async def test_sqlite_migrations_build_exactly_the_tables_the_code_uses(tmp_path: Path) -> None:
    assert await differences(f"sqlite:///{tmp_path / 'store.db'}") == []


@pytest.mark.postgres
async def test_postgres_migrations_build_exactly_the_tables_the_code_uses() -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        assert await differences(f"{POSTGRES_URL}?schema={schema}") == []
    finally:
        await drop_schema(schema)


async def test_sqlite_stores_upgrading_at_once_all_end_at_the_head(tmp_path: Path) -> None:
    revisions = await concurrent_upgrades(f"sqlite:///{tmp_path / 'store.db'}", 4)
    assert revisions == [head_revision()] * 4


@pytest.mark.postgres
async def test_postgres_stores_upgrading_at_once_all_end_at_the_head() -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        revisions = await concurrent_upgrades(f"{POSTGRES_URL}?schema={schema}", 4)
    finally:
        await drop_schema(schema)
    assert revisions == [head_revision()] * 4


async def test_the_store_leaves_other_tables_in_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "jobqueue.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE messages (id TEXT PRIMARY KEY)")
        connection.execute("INSERT INTO messages VALUES ('kept')")
    store = from_url(f"sqlite:///{path}")
    await store.connect()
    await store.upgrade()
    await store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT id FROM messages").fetchall() == [("kept",)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_migrations_downgrade_to_nothing_and_upgrade_again(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        for target in ("head", "base", "head"):
            with engine.begin() as connection:
                config = alembic_config(connection)
                if target == "base":
                    command.downgrade(config, target)
                else:
                    command.upgrade(config, target)
            with engine.connect() as connection:
                names = set(sa.inspect(connection).get_table_names())
            assert ("store_jobs" in names) == (target == "head")
    finally:
        engine.dispose()
