"""Every store backend passes the whole conformance suite: SQLite here, PostgreSQL for real."""

from __future__ import annotations

import pytest

from jobqueue.testing.store import CHECKS, Check, StoreFactory


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
async def test_sqlite_store_conforms(check: Check, sqlite_factory: StoreFactory) -> None:
    await check(sqlite_factory)


@pytest.mark.postgres
@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
async def test_postgres_store_conforms(check: Check, postgres_factory: StoreFactory) -> None:
    await check(postgres_factory)
