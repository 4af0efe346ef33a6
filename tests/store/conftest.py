"""Store fixtures: a fresh SQLite file per test, and a PostgreSQL schema per test dropped after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from jobqueue.store import Store, from_url
from jobqueue.testing.store import StoreFactory
from tests.services import POSTGRES_URL


@asynccontextmanager
async def open_store(url: str) -> AsyncIterator[Store]:
    """A connected, upgraded store at ``url``, closed after."""
    store = from_url(url)
    await store.connect()
    try:
        await store.upgrade()
        yield store
    finally:
        await store.close()


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> StoreFactory:
    """Each call opens a store in a new SQLite file under the test's temp dir."""

    def factory() -> AbstractAsyncContextManager[Store]:
        return open_store(f"sqlite:///{tmp_path / uuid.uuid4().hex}.db")

    return factory


async def drop_schema(schema: str) -> None:
    """Drop a test schema and everything in it."""
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


@asynccontextmanager
async def postgres_store() -> AsyncIterator[Store]:
    """A store in a schema of its own in the test database, dropped after."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        async with open_store(f"{POSTGRES_URL}?schema={schema}") as store:
            yield store
    finally:
        await drop_schema(schema)


@pytest.fixture
def postgres_factory() -> StoreFactory:
    """Each call opens a store in a fresh PostgreSQL schema."""
    return postgres_store
