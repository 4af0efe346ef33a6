"""The store's API tokens: insert, list, revoke (only salted hashes are ever stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from jobqueue.auth.records import TokenRecord
from jobqueue.errors import TokenExists
from jobqueue.store.tables import tokens


def insert(connection: sa.Connection, record: TokenRecord) -> None:
    """Add ``record``; ``TokenExists`` when a token of that name exists (revoked or not)."""
    try:
        with connection.begin_nested():
            connection.execute(sa.insert(tokens).values(**_row(record)))
    except IntegrityError:
        raise TokenExists(f"a token named {record.name!r} already exists") from None


def all_tokens(connection: sa.Connection) -> list[TokenRecord]:
    """Every token, revoked ones too, by name."""
    rows = connection.execute(sa.select(tokens).order_by(tokens.c.name))
    return [_record(row) for row in rows]


def revoke(connection: sa.Connection, name: str, at: datetime) -> bool:
    """Mark the token revoked; False when there is no active token of that name."""
    result = connection.execute(
        sa.update(tokens)
        .where(tokens.c.name == name, tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount > 0


def _row(record: TokenRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "token_id": record.token_id,
        "salt": record.salt,
        "digest": record.digest,
        "scopes": ",".join(sorted(record.scopes)),
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
    }


def _record(row: sa.Row[Any]) -> TokenRecord:
    return TokenRecord(
        name=row.name,
        token_id=row.token_id,
        salt=bytes(row.salt),
        digest=bytes(row.digest),
        scopes=frozenset(filter(None, row.scopes.split(","))),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
