"""The ``jobqueue db`` commands: migrate the job state store's schema and show its revision."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from jobqueue import config
from jobqueue.brokers import redact_url
from jobqueue.cli.options import missing_sqlite_file
from jobqueue.store import Store, default_store_url, from_url

T = TypeVar("T")

StoreUrl = Annotated[
    str | None,
    typer.Option(
        envvar=config.env("store_url"),
        help="sqlite:///path.db or postgresql://user@host/db (default: beside the broker).",
    ),
]

db_app = typer.Typer(
    help="The job state store's schema: upgrade it, show its revision.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``jobqueue db ...`` to the app."""
    app.add_typer(db_app, name="db")


def resolve_store_url(store_url: str | None) -> str:
    """The store URL given, else the store beside the configured broker."""
    return store_url or default_store_url(config.env_or("broker_url", config.BROKER_URL))


def store_file_missing(url: str) -> Path | None:
    """For a SQLite store whose file is not there, its absolute path; else None."""
    from jobqueue.store.engine import parse_url

    target = parse_url(url)
    if target.dialect != "sqlite" or target.driver_url.database is None:
        return None
    return missing_sqlite_file(Path(target.driver_url.database))


def with_store(url: str, action: Callable[[Store], Awaitable[T]]) -> T:
    """Connect to the store, run ``action`` on it, close it; returns what ``action`` returned."""

    async def run() -> T:
        store = from_url(url)
        await store.connect()
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


async def _upgrade(store: Store) -> str | None:
    await store.upgrade()
    return await store.schema_version()


@db_app.command("upgrade")
def upgrade(store_url: StoreUrl = None) -> None:
    """Migrate the store's schema to the newest revision (a no-op when it is there already)."""
    url = resolve_store_url(store_url)
    revision = with_store(url, _upgrade)
    typer.echo(f"store {redact_url(url)} is at revision {revision} (the newest)")


@db_app.command("current")
def current(store_url: StoreUrl = None) -> None:
    """Show the store's schema revision and whether it is the newest (never creates a file)."""
    url = resolve_store_url(store_url)
    missing = store_file_missing(url)
    if missing is not None:
        typer.echo(
            f"store {redact_url(url)} has no schema yet: no file at {missing} "
            "(run: jobqueue db upgrade)"
        )
        return
    from jobqueue.store.migrate import head_revision  # alembic: loaded only by this command

    revision = with_store(url, lambda store: store.schema_version())
    head = head_revision()
    if revision is None:
        typer.echo(f"store {redact_url(url)} has no schema yet (run: jobqueue db upgrade)")
    elif revision == head:
        typer.echo(f"store {redact_url(url)} is at revision {revision} (the newest)")
    else:
        typer.echo(
            f"store {redact_url(url)} is at revision {revision}; the newest is {head} "
            "(run: jobqueue db upgrade)"
        )
