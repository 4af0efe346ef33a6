"""The values the job store keeps for authentication: tokens (hashed) and audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored API token: its public id, its scopes, and only a salted hash of its secret."""

    name: str
    token_id: str
    salt: bytes
    digest: bytes
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the token still lets its holder in."""
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin action: who (token name, token id), what, on what, how many, from where, when,
    and the answer's status."""

    entry_id: str
    at: datetime
    actor: str
    token_id: str | None
    action: str
    target: str
    count: int | None
    client: str
    status: int
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of the audit log, newest first, and the cursor of the next page (None: the end)."""

    entries: list[AuditEntry]
    next_cursor: str | None
