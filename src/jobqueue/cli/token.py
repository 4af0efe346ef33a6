"""The ``jobqueue token`` commands: create (the secret shown once), list and revoke API tokens,
kept as salted hashes in the job store that every API replica reads."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobqueue.auth import hashing
from jobqueue.auth.records import TokenRecord
from jobqueue.auth.scopes import parse_scopes
from jobqueue.cli.db import StoreUrl, resolve_store_url, with_store
from jobqueue.cli.table import KEEP, Column, fit_table, print_table, terminal_width
from jobqueue.cli.terminal import printable, to_json
from jobqueue.errors import ConfigError, NotFound
from jobqueue.store import Store
from jobqueue.store.events import to_iso, utc_now

MAX_NAME = 64

token_app = typer.Typer(
    help="API tokens: create one (its secret is shown once), list them, revoke one.",
    no_args_is_help=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="JSON instead of text.")]
TOKEN_COLUMNS = (
    Column("NAME", KEEP),
    Column("ID", 2),
    Column("SCOPES", KEEP),
    Column("CREATED", 3),
    Column("REVOKED", 1),
)


def register(app: typer.Typer) -> None:
    """Add ``jobqueue token ...`` to the app."""
    app.add_typer(token_app, name="token")


def check_name(name: str) -> str:
    """A token's name: 1 to 64 letters, digits, ``-``, ``_`` or ``.``."""
    if not 0 < len(name) <= MAX_NAME or not all(
        c.isascii() and (c.isalnum() or c in "-_.") for c in name
    ):
        raise ConfigError(
            f"token name {printable(name)!r}: use 1 to {MAX_NAME} letters, digits, '-', '_' or '.'"
        )
    return name


@token_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name for whoever holds it, e.g. billing-service.")],
    scope: Annotated[
        str,
        typer.Option(
            "--scope", help="Comma-separated: submit, read, admin (includes read), worker."
        ),
    ],
    store_url: StoreUrl = None,
    as_json: AsJson = False,
) -> None:
    """Create a token and print its secret once (only a salted hash of it is kept)."""
    scopes = frozenset(s.value for s in parse_scopes(scope))
    made = hashing.new_secret()
    salt = hashing.new_salt()
    record = TokenRecord(
        check_name(name), made.token_id, salt, hashing.digest(salt, made.secret), scopes, utc_now()
    )

    async def add(store: Store) -> None:
        await store.upgrade()
        await store.add_token(record)

    with_store(resolve_store_url(store_url), add)
    if as_json:
        typer.echo(to_json({**_view(record), "token": made.token}))
        return
    typer.echo(f"token {name} ({made.token_id}) created with scopes {', '.join(sorted(scopes))}")
    typer.echo("its secret, shown only now (give it as JOBQUEUE_TOKEN or Authorization: Bearer):")
    typer.echo(made.token)


@token_app.command("list")
def list_tokens(store_url: StoreUrl = None, as_json: AsJson = False) -> None:
    """List the tokens: name, id, scopes, when created and revoked (never their secrets)."""

    async def read(store: Store) -> list[TokenRecord]:
        await store.upgrade()
        return await store.tokens()

    records = with_store(resolve_store_url(store_url), read)
    if as_json:
        for record in records:
            typer.echo(to_json(_view(record)))
        return
    rows = [
        [r.name, r.token_id, ",".join(sorted(r.scopes)), _when(r.created_at), _when(r.revoked_at)]
        for r in records
    ]
    print_table(fit_table(TOKEN_COLUMNS, rows, terminal_width(), title=f"{len(rows)} tokens"))


@token_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")], store_url: StoreUrl = None
) -> None:
    """Revoke a token: every API replica refuses it within a few seconds."""

    async def drop(store: Store) -> bool:
        await store.upgrade()
        return await store.revoke_token(name)

    if not with_store(resolve_store_url(store_url), drop):
        raise NotFound(f"no active token named {printable(name)!r}")
    typer.echo(f"token {name} revoked: API replicas refuse it within a few seconds")


def _view(record: TokenRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "id": record.token_id,
        "scopes": sorted(record.scopes),
        "created_at": to_iso(record.created_at),
        "revoked_at": None if record.revoked_at is None else to_iso(record.revoked_at),
    }


def _when(moment: Any) -> str:
    return "-" if moment is None else to_iso(moment)[:19].replace("T", " ")
