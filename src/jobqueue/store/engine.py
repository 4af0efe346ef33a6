"""Store URLs and engines: SQLite through the sqlite3 module (WAL, busy timeout), PostgreSQL
through asyncpg.

SQLite is driven synchronously, one whole transaction per call from a small thread pool, rather
than through aiosqlite, which hands every cursor call to its thread separately (about a dozen
round trips for one transaction of two statements).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from jobqueue.brokers import redact_url
from jobqueue.errors import ConfigError

SQLITE_BUSY_TIMEOUT_S = 30.0
# Execution option that makes a SQLite transaction take the write lock at BEGIN, so a
# read-then-write transaction cannot fail half way with SQLITE_BUSY.
WRITE_OPTION = "jobqueue_write"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite")
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
# libpq's TLS parameters, which asyncpg takes in a DSN only (as keywords it refuses them).
_LIBPQ_SSL_PARAMS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslcrl")
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """A parsed store URL: the dialect, the driver URL, and a PostgreSQL schema if any."""

    url: str
    dialect: str
    driver_url: URL
    schema: str | None = None
    ssl_dsn: str | None = None  # libpq's TLS parameters as a DSN for asyncpg, if any were given

    @property
    def display_url(self) -> str:
        """The URL as given, password redacted: safe in logs and errors."""
        return redact_url(self.url)


def parse_url(url: str) -> StoreTarget:
    """Parse ``sqlite:///path.db`` or ``postgresql://...[?schema=name]``; ConfigError else."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    try:
        if scheme in _SQLITE_SCHEMES:
            return _sqlite_target(url)
        if scheme in _POSTGRES_SCHEMES:
            return _postgres_target(url)
    except ArgumentError:
        raise ConfigError(f"store URL {redact_url(url)!r} is malformed") from None
    raise ConfigError(
        f"unsupported store URL {redact_url(url)!r}: "
        "use sqlite:///path.db or postgresql://user@host:5432/db"
    )


def _sqlite_target(url: str) -> StoreTarget:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise ConfigError(f"store URL {redact_url(url)!r} names no file: use sqlite:///path.db")
    return StoreTarget(url, "sqlite", URL.create("sqlite+pysqlite", database=path))


def _postgres_target(url: str) -> StoreTarget:
    parsed = make_url(url)
    schema = parsed.query.get("schema")
    if isinstance(schema, tuple):
        schema = schema[-1]
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise ConfigError(f"store URL {redact_url(url)!r}: schema {schema!r} is not a plain name")
    driver_url = parsed.difference_update_query(["schema", *_LIBPQ_SSL_PARAMS])
    driver_url = driver_url.set(drivername="postgresql+asyncpg")
    return StoreTarget(url, "postgresql", driver_url, schema, _ssl_dsn(url, parsed))


def _ssl_dsn(url: str, parsed: URL) -> str | None:
    """``sslmode=require`` and the like as a DSN of their own, which asyncpg reads beside its
    keyword arguments; ``None`` when the URL has none."""
    params = {name: parsed.query[name] for name in _LIBPQ_SSL_PARAMS if name in parsed.query}
    if not params:
        return None
    if any(isinstance(value, tuple) for value in params.values()):
        raise ConfigError(f"store URL {redact_url(url)!r} gives a TLS parameter twice")
    if params.get("sslmode", "prefer") not in _SSL_MODES:
        raise ConfigError(
            f"store URL {redact_url(url)!r}: sslmode must be one of {', '.join(_SSL_MODES)}"
        )
    return "postgresql://?" + urlencode(params)


def postgres_engine(target: StoreTarget) -> AsyncEngine:
    """The asyncpg engine, its connections' ``search_path`` set to the target's schema."""
    connect_args: dict[str, Any] = {}
    if target.schema is not None:
        connect_args["server_settings"] = {"search_path": target.schema}
    if target.ssl_dsn is not None:
        connect_args["dsn"] = target.ssl_dsn
    try:
        return create_async_engine(
            target.driver_url, connect_args=connect_args, pool_size=5, max_overflow=10
        )
    except ModuleNotFoundError as exc:
        if exc.name != "asyncpg":
            raise
        raise ConfigError(
            "a PostgreSQL store needs asyncpg, which is not installed: "
            "pip install 'jobqueue[postgres]'"
        ) from None


def sqlite_engine(target: StoreTarget, pool_size: int) -> sa.Engine:
    """The sqlite3 engine, for use from ``pool_size`` threads at most."""
    engine = sa.create_engine(
        target.driver_url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        poolclass=sa.QueuePool,
        pool_size=pool_size,
        max_overflow=0,
    )
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module's own implicit transactions start late and never cover DDL; turn them
    # off and let the "begin" hook below issue BEGIN itself.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    dbapi_connection.execute("PRAGMA synchronous=FULL")


def _on_sqlite_begin(connection: sa.Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
