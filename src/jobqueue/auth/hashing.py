"""Token secrets: how they are made, parsed, and hashed (salted HMAC-SHA256, compared in
constant time)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "jq_"
_ID_BYTES = 6
_SECRET_BYTES = 32
_SALT_BYTES = 16
_MADE = re.compile(r"^jq_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A token as made: the whole string the holder presents, and its public id."""

    token: str
    token_id: str
    secret: str


def new_secret() -> NewSecret:
    """A fresh token ``jq_<12 hex id>_<43 characters, 256 random bits>``."""
    token_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return NewSecret(f"{PREFIX}{token_id}_{secret}", token_id, secret)


def split(token: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a token made by :func:`new_secret`, else None."""
    match = _MADE.match(token)
    return None if match is None else (match.group(1), match.group(2))


def new_salt() -> bytes:
    """A random salt for one token."""
    return secrets.token_bytes(_SALT_BYTES)


def digest(salt: bytes, secret: str) -> bytes:
    """The stored form of ``secret``: HMAC-SHA256 keyed by its salt.

    A secret holds 256 random bits, so a fast keyed hash is enough: no guess can be checked
    without the salt, and none can succeed by search. A slow password hash would only add
    milliseconds to every request.
    """
    return hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).digest()


def matches(salt: bytes, secret: str, expected: bytes) -> bool:
    """Whether ``secret`` hashes to ``expected``, compared in constant time."""
    return hmac.compare_digest(digest(salt, secret), expected)
