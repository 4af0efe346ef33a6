"""A sidecar of the API that files the queue's depth in the job store every ``interval_s``, so
the dashboard's depth charts have a history that outlives the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from jobqueue.background import in_background
from jobqueue.errors import JobqueueError
from jobqueue.metrics.fleet import FleetReader
from jobqueue.store import Store

log = logging.getLogger("jobqueue.stats")

SAMPLE_INTERVAL_S = 15.0


async def sample_once(fleet: FleetReader, store: Store) -> bool:
    """File one sample; whether there was anything to file."""
    view = await fleet.read()
    depth = view.depth_by_state()
    if not depth:
        return False
    await store.record_depth(view.queue, depth)
    return True


async def _sample_forever(fleet: FleetReader, store: Store, interval_s: float) -> None:
    while True:
        try:
            await sample_once(fleet, store)
        except JobqueueError as exc:  # the store or broker is down: the next one will do
            log.debug("queue depth not sampled: %s", exc)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def sampling_depth(
    fleet: FleetReader, store: Store, interval_s: float = SAMPLE_INTERVAL_S
) -> AsyncIterator[None]:
    """Sample the depth for the duration of the block."""
    async with in_background(_sample_forever(fleet, store, interval_s), "jobqueue-depth"):
        yield
