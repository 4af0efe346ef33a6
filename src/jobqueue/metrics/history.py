"""The store's job totals and time histograms for the scrape: read at most once per ``ttl_s``,
so every replica shows the same counters and they survive a restart."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from jobqueue.errors import StoreUnavailable
from jobqueue.metrics.labels import Key, folded, kept_types
from jobqueue.store import Store

log = logging.getLogger("jobqueue.metrics")

TOTALS_TTL_S = 2.0


@dataclass(frozen=True, slots=True)
class History:
    """Job counts by (queue, type, outcome); time buckets by (queue, type, measure, le) with
    their count and sum of seconds. Types past the bound are ``other``."""

    counts: dict[Key, float] = field(default_factory=dict)
    bucket_counts: dict[Key, float] = field(default_factory=dict)
    bucket_sums: dict[Key, float] = field(default_factory=dict)


class StoreHistory:
    """Reads the store's :class:`History`, cached for ``ttl_s``; while the store is
    unavailable, the last one read."""

    def __init__(self, store: Store, max_types: int, ttl_s: float = TOTALS_TTL_S) -> None:
        self._store = store
        self._max_types = max_types
        self._ttl_s = ttl_s
        self._read_at = -ttl_s
        self._history = History()

    async def read(self) -> History:
        """The history, read again when the cached one is older than the TTL."""
        now = time.monotonic()
        if now - self._read_at >= self._ttl_s:
            try:
                self._history = await self._read()
            except StoreUnavailable as exc:
                log.debug("job totals not read: %s", exc)
            self._read_at = now
        return self._history

    async def _read(self) -> History:
        totals = await self._store.job_totals()
        timings = await self._store.job_timings()
        kept = kept_types(totals, self._max_types)
        return History(
            folded((((t.queue, t.type, t.outcome), t.count) for t in totals), kept),
            folded((((t.queue, t.type, t.measure, t.le), t.count) for t in timings), kept),
            folded((((t.queue, t.type, t.measure, t.le), t.sum_s) for t in timings), kept),
        )
