"""Retention: a periodic task in the API deletes finished jobs (and old idempotency keys).

Jobs that finished (succeeded, dead, cancelled) more than ``retention_s`` ago are deleted with
their results and history, every ``interval_s`` (first right at start). Several API replicas
may each run it: a purge is a few short transactions and deleting twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from jobqueue.background import in_background
from jobqueue.store import Store

log = logging.getLogger("jobqueue.api")


async def purge_forever(store: Store, retention_s: float, interval_s: float) -> None:
    """Purge what finished more than ``retention_s`` ago, every ``interval_s``; never raises."""
    while True:
        try:
            purged = await store.purge_finished(retention_s)
        except Exception as exc:  # the next round may succeed
            log.warning("purging finished jobs failed: %s", exc)
        else:
            if purged:
                log.info("purged %d job(s) finished more than %gs ago", purged, retention_s)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def purging(store: Store, retention_s: float, interval_s: float) -> AsyncIterator[None]:
    """The purge running in the background for the duration of the block."""
    async with in_background(purge_forever(store, retention_s, interval_s), "jobqueue-retention"):
        yield
