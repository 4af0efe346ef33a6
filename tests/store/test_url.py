"""Store URLs: which backend each names, the driver URL, schemas, and redacted errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobqueue.errors import ConfigError, StoreUnavailable
from jobqueue.store import Store, default_store_url, from_url
from jobqueue.store.engine import parse_url
from jobqueue.store.sql import PostgresStore, SqliteStore


@pytest.mark.parametrize(
    ("url", "database"),
    [("sqlite:///jobqueue.db", "jobqueue.db"), ("sqlite:////var/lib/jq/x.db", "/var/lib/jq/x.db")],
)
def test_a_sqlite_url_names_a_file_through_the_sqlite3_module(url: str, database: str) -> None:
    target = parse_url(url)
    assert target.dialect == "sqlite"
    assert target.driver_url.drivername == "sqlite+pysqlite"
    assert target.driver_url.database == database
    assert isinstance(from_url(url), SqliteStore)


@pytest.mark.parametrize("url", ["postgresql://u:pw@db:5433/jobs", "postgres://u:pw@db:5433/jobs"])
def test_a_postgres_url_goes_through_asyncpg(url: str) -> None:
    target = parse_url(url)
    assert target.dialect == "postgresql"
    assert target.driver_url.drivername == "postgresql+asyncpg"
    assert (target.driver_url.host, target.driver_url.port) == ("db", 5433)
    assert target.driver_url.password == "pw"
    assert target.display_url == url.replace(":pw@", ":***@")
    store = from_url(url)
    assert isinstance(store, PostgresStore)
    assert isinstance(store, Store)
    assert "pw" not in repr(store)


def test_a_schema_in_the_query_is_taken_out_of_the_driver_url() -> None:
    target = parse_url("postgresql://u@db/jobs?schema=tenant_a&ssl=require")
    assert target.schema == "tenant_a"
    assert dict(target.driver_url.query) == {"ssl": "require"}


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:hunter2@localhost/db",
        "redis://:hunter2@localhost/0",
        "jobqueue.db",
        "sqlite:///:memory:",
        "sqlite://",
        "postgresql://u:hunter2@db/jobs?schema=a;drop",
    ],
)
def test_an_unusable_url_is_a_config_error_that_hides_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_url(url)
    assert "hunter2" not in str(raised.value)


def test_the_default_store_is_a_file_beside_the_embedded_brokers() -> None:
    assert default_store_url("sqlite:///data/jq.db") == "sqlite:///data/jq-state.db"
    assert (
        default_store_url("sqlite:////var/lib/jobqueue.db")
        == "sqlite:////var/lib/jobqueue-state.db"
    )
    assert default_store_url("sqlite:///data.dir/queue") == "sqlite:///data.dir/queue-state"
    assert default_store_url("amqp://guest:guest@localhost/") == "sqlite:///jobqueue-state.db"


async def test_a_store_not_connected_is_unavailable(tmp_path: Path) -> None:
    store = from_url(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(StoreUnavailable, match="not connected"):
        await store.get("job")
    assert not await store.is_ready()
    await store.close()


async def test_an_unreachable_postgres_is_unavailable_and_not_ready() -> None:
    store = from_url("postgresql://jq:hunter2@127.0.0.1:1/jobs")
    with pytest.raises(StoreUnavailable) as raised:
        await store.connect()
    assert "hunter2" not in str(raised.value)
    assert not await store.is_ready()
    await store.close()
