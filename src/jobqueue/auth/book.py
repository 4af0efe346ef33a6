"""The tokens an API process accepts: those in the job store (re-read every few seconds, so
every replica sees a new or revoked token at once) and those given in a file or variable."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol

from jobqueue.auth import hashing
from jobqueue.auth.records import TokenRecord
from jobqueue.auth.scopes import Scope, grants, parse_scopes
from jobqueue.background import in_background
from jobqueue.errors import ConfigError, JobqueueError

logger = logging.getLogger("jobqueue.auth")

REFRESH_S = 2.0
VERIFIED_CACHE = 10_000
"""Tokens recently verified, remembered by their SHA-256 until the book next changes."""
MIN_STATIC_SECRET = 24
"""A token given in a file or variable is chosen by a person: at least this many characters."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: the token's name and id (``None`` when auth is off) and its
    scopes."""

    name: str
    token_id: str | None
    scopes: frozenset[str]

    def may(self, scope: Scope) -> bool:
        """Whether this token grants ``scope``."""
        return grants(self.scopes, scope)


ANONYMOUS = Principal("anonymous", None, frozenset(scope.value for scope in Scope))
"""Everyone, where authentication is off."""


@dataclass(frozen=True, slots=True)
class _Static:
    principal: Principal
    salt: bytes
    digest: bytes


class TokenBook:
    """Answers "whose token is this?" in memory, in constant time per comparison.

    ``required`` is whether a request must carry a token: when any token exists (or ever
    existed in the store), when the API
    listens beyond loopback without ``insecure``, and also while the store's tokens could not
    be read yet (failing closed: an unreadable store never opens the door).
    """

    def __init__(self, static: Iterable[_Static] = (), *, open_without_tokens: bool = True):
        self._static = list(static)
        self._stored: dict[str, TokenRecord] = {}
        self._any_stored = False
        self._loaded = False
        self._open_without_tokens = open_without_tokens
        self._verified: dict[bytes, Principal] = {}

    @classmethod
    def from_lines(cls, lines: Iterable[str], *, open_without_tokens: bool = True) -> TokenBook:
        """A book of the tokens given as ``NAME:SCOPES:SECRET`` lines (``#`` comments)."""
        return cls(
            [_static(line) for line in lines if line.strip() and not line.lstrip().startswith("#")],
            open_without_tokens=open_without_tokens,
        )

    @property
    def has_tokens(self) -> bool:
        """Whether any active token is known."""
        return bool(self._static or self._stored)

    @property
    def loaded(self) -> bool:
        """Whether the store's tokens have been read at least once."""
        return self._loaded

    @property
    def required(self) -> bool:
        """Whether requests must carry a valid token. Once a token was ever created, it stays
        so: revoking the last one does not open the API again."""
        return (
            self.has_tokens or self._any_stored or not self._loaded or not self._open_without_tokens
        )

    def load(self, records: Iterable[TokenRecord]) -> None:
        """Replace the store's tokens with ``records`` (revoked ones are dropped)."""
        records = list(records)
        stored = {record.token_id: record for record in records if record.active}
        if stored != self._stored:
            self._verified = {}  # a token revoked (or changed) is verified afresh
        self._stored = stored
        self._any_stored = bool(records)
        self._loaded = True

    def verify(self, token: str) -> Principal | None:
        """The holder of ``token``, or None for a token nobody issued (or one revoked).

        A token seen since the book last changed is found by its SHA-256 (a dictionary keyed
        by a digest tells nothing of the secret by its timing); others are checked in full.
        """
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        principal = self._verified.get(key)
        if principal is None:
            principal = self._check(token)
            if principal is not None:
                if len(self._verified) >= VERIFIED_CACHE:
                    self._verified.clear()
                self._verified[key] = principal
        return principal

    def _check(self, token: str) -> Principal | None:
        parts = hashing.split(token)
        if parts is not None:
            record = self._stored.get(parts[0])
            if record is not None and hashing.matches(record.salt, parts[1], record.digest):
                return Principal(record.name, record.token_id, record.scopes)
        found = None
        for entry in self._static:  # every entry compared, so timing tells nothing
            if hashing.matches(entry.salt, token, entry.digest):
                found = entry.principal
        return found


def _static(line: str) -> _Static:
    name, sep, rest = line.strip().partition(":")
    scopes_text, sep2, secret = rest.partition(":")
    if not (sep and sep2 and name):
        raise ConfigError("a token line must be NAME:SCOPES:SECRET (e.g. ci:submit,read:...)")
    if len(secret) < MIN_STATIC_SECRET:
        raise ConfigError(
            f"token {name!r}: its secret must be at least {MIN_STATIC_SECRET} characters"
        )
    salt = hashing.new_salt()
    scopes = frozenset(scope.value for scope in parse_scopes(scopes_text))
    return _Static(Principal(name, f"static:{name}", scopes), salt, hashing.digest(salt, secret))


class TokenSource(Protocol):
    """Where the store's tokens come from: the job store, or anything with ``tokens()``."""

    async def tokens(self) -> list[TokenRecord]:
        """Every token."""


async def refresh_once(book: TokenBook, source: TokenSource) -> bool:
    """Read the store's tokens into ``book``; False (and the book unchanged) when it failed."""
    try:
        book.load(await source.tokens())
    except JobqueueError as exc:
        logger.warning("API tokens could not be read from the job store: %s", exc)
        return False
    return True


@contextlib.asynccontextmanager
async def refreshing(
    book: TokenBook, source: TokenSource, every_s: float = REFRESH_S
) -> AsyncIterator[TokenBook]:
    """Keep ``book`` in step with the store's tokens while the block runs."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every_s)
            started = time.monotonic()
            await refresh_once(book, source)
            if time.monotonic() - started > every_s:
                logger.info("reading API tokens took longer than %.0f s", every_s)

    async with in_background(loop(), "token-refresh"):
        yield book
