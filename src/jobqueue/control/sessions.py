"""Per-registration secrets: who may heartbeat, deregister or re-register a worker id.

A worker that registers with ``sessions`` gets a fresh random secret; the API keeps only its
SHA-256 (a secret of 256 random bits needs no salt), for the worker's TTL, refreshed by each
heartbeat. While that session is live, a heartbeat or deregister for the id must carry the
secret (else :class:`~jobqueue.errors.PermissionDenied`, and nothing changes), and so must a
new registration (else :class:`~jobqueue.errors.SessionTaken`). An id with no live session
(the original worker, which knows nothing of sessions; or one whose session expired or was
ended) is taken as ever; a heartbeat carrying a secret for such an id starts a session with
it, which is how a worker is registered again after an API that kept sessions in memory
restarted.

The rules live in :class:`Sessions`, once; a backend (:class:`SessionStore`) only reads and
compare-and-swaps one hash per id: :class:`InMemorySessionStore` for the in-memory registry,
``jobqueue.control.redis_sessions`` for a shared one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Protocol

from jobqueue.config import WORKER_TTL_S
from jobqueue.errors import PermissionDenied, SessionTaken

__all__ = ["InMemorySessionStore", "SessionStore", "Sessions", "from_url"]

SECRET_BYTES = 32
_PURGE_AT_LEAST = 1024


class SessionStore(Protocol):
    """One hash per worker id, each expiring ``ttl_s`` after it was last written."""

    async def get(self, worker_id: str) -> str | None:
        """The live session's hash for ``worker_id``, or None."""
        ...

    async def swap(self, worker_id: str, expected: str | None, new: str | None) -> bool:
        """Replace the hash ``expected`` (None: no live session) with ``new`` (None: end it),
        restarting its TTL; False, changing nothing, when the stored hash is not ``expected``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def digest(secret: str) -> str:
    """What is stored of a secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _matches(stored: str, presented: str) -> bool:
    return hmac.compare_digest(stored, digest(presented))


class Sessions:
    """The session rules over a :class:`SessionStore`."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store

    async def open(self, worker_id: str, presented: str, wanted: bool) -> str:
        """A registration: the new session's secret ('' unless ``wanted``). Raises SessionTaken
        when ``worker_id`` is live with a session whose secret ``presented`` is not."""
        stored = await self._store.get(worker_id)
        if stored is not None and not _matches(stored, presented):
            raise SessionTaken(_taken(worker_id))
        secret = secrets.token_urlsafe(SECRET_BYTES) if wanted else ""
        if not await self._store.swap(worker_id, stored, digest(secret) if wanted else None):
            raise SessionTaken(_taken(worker_id))  # another registration won the race
        return secret

    async def admit(self, worker_id: str, presented: str) -> None:
        """A heartbeat: refresh the session (or start one with ``presented`` when there is
        none and it is not empty). Raises PermissionDenied when the id is live with a session
        whose secret ``presented`` is not."""
        stored = await self._store.get(worker_id)
        if stored is None and not presented:
            return  # a worker without sessions, as the original
        if stored is not None and not _matches(stored, presented):
            raise PermissionDenied(_denied(worker_id, "heartbeat"))
        new = stored if stored is not None else digest(presented)
        if not await self._store.swap(worker_id, stored, new):
            raise PermissionDenied(_denied(worker_id, "heartbeat"))

    async def end(self, worker_id: str, presented: str) -> None:
        """A deregistration: end the session. Raises PermissionDenied as :meth:`admit` does."""
        stored = await self._store.get(worker_id)
        if stored is None:
            return
        if not _matches(stored, presented) or not await self._store.swap(worker_id, stored, None):
            raise PermissionDenied(_denied(worker_id, "deregister"))

    async def close(self) -> None:
        """Release the store's connections."""
        await self._store.close()


def _taken(worker_id: str) -> str:
    return (
        f"worker id {worker_id!r} is registered by a live session: register again with its "
        "session secret, or wait for it to expire or deregister"
    )


def _denied(worker_id: str, what: str) -> str:
    return f"{what} for worker {worker_id!r} without its session secret"


class InMemorySessionStore:
    """The sessions of one API process, on the monotonic clock."""

    def __init__(
        self, ttl_s: float = WORKER_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._hashes: dict[str, tuple[str, float]] = {}  # id -> (hash, expires at)
        self._purge_at = _PURGE_AT_LEAST

    async def get(self, worker_id: str) -> str | None:
        """The live session's hash, or None."""
        entry = self._hashes.get(worker_id)
        return entry[0] if entry is not None and entry[1] > self._clock() else None

    async def swap(self, worker_id: str, expected: str | None, new: str | None) -> bool:
        """Compare-and-swap the hash (see :class:`SessionStore`)."""
        if await self.get(worker_id) != expected:
            return False
        if new is None:
            self._hashes.pop(worker_id, None)
            return True
        self._hashes[worker_id] = (new, self._clock() + self._ttl_s)
        if len(self._hashes) >= self._purge_at:
            self._purge()
        return True

    async def close(self) -> None:
        """Nothing to release."""

    def _purge(self) -> None:
        now = self._clock()
        self._hashes = {key: entry for key, entry in self._hashes.items() if entry[1] > now}
        self._purge_at = max(_PURGE_AT_LEAST, 2 * len(self._hashes))


def from_url(url: str = "", ttl_s: float = WORKER_TTL_S) -> Sessions:
    """The sessions beside the registry a URL names: in memory for an empty or ``memory://``
    URL, in the same Redis (and under the same key prefix) for ``redis://``."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    if scheme in ("redis", "rediss", "unix"):
        from jobqueue.control.redis_sessions import RedisSessionStore

        return Sessions(RedisSessionStore.from_url(url, ttl_s=ttl_s))
    return Sessions(InMemorySessionStore(ttl_s=ttl_s))
