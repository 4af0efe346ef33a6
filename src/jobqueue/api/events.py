"""The API's events consumer: workers' status events from ``{queue}.events`` into the store.

It runs beside the HTTP server. Deliveries are taken as they come and applied in groups: all
the deliveries that are waiting (up to ``prefetch``) go into one ``store.apply_events``
transaction and are acked once it committed. Applying is idempotent (each event has its own
id), so a group delivered again after a crash changes nothing. While the store is unreachable
the group is held and tried again with backoff; nothing is lost, and an API that is down leaves
the events waiting in the queue.

A message that is not an events batch is dead-lettered (reason ``undecodable``); a batch the
store refuses (an error other than unavailability) is tried alone and dead-lettered
(``rejected``) if it is refused alone too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from jobqueue.api.tracking import JobWatch
from jobqueue.brokers import Broker, Death, DeathReason, Delivery
from jobqueue.errors import BrokerError, BrokerUnavailable, DecodeError, StoreUnavailable
from jobqueue.store import JobEvent, Store
from jobqueue.store.transport import batch_events

log = logging.getLogger("jobqueue.api.events")

PREFETCH = 64
RETRY_MIN_S = 0.1
RETRY_MAX_S = 5.0
CONSUME_RETRY_S = 1.0

_Decoded = tuple[Delivery, list[JobEvent]]
Applied = Callable[[Sequence[JobEvent]], None]
"""Told of every batch of events once the store has it (the metrics' apply lag)."""


class EventsConsumer:
    """Consumes the events queue through ``broker`` and applies the batches to ``store``."""

    def __init__(
        self,
        broker: Broker,
        store: Store,
        watch: JobWatch | None = None,
        prefetch: int = PREFETCH,
        on_applied: Applied | None = None,
    ) -> None:
        self._broker = broker
        self._store = store
        self._on_applied = on_applied
        self._watch = watch or JobWatch()
        self._prefetch = prefetch
        self._inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.applied = 0  # events new to the store
        self.messages = 0  # messages applied and acked

    async def start(self) -> None:
        """Start consuming in the background (connecting first, however long that takes)."""
        self._tasks = [
            asyncio.create_task(self._receive_forever(), name="jobqueue-events-receive"),
            asyncio.create_task(self._apply_forever(), name="jobqueue-events-apply"),
        ]

    async def stop(self) -> None:
        """Stop consuming and close the broker; deliveries not yet applied go back to the queue."""
        with contextlib.suppress(Exception):
            await self._broker.stop_consuming()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self._broker.close()

    # -- receiving ------------------------------------------------------------------------------

    async def _receive_forever(self) -> None:
        await self._connect()
        while True:
            try:
                async for delivery in self._broker.deliveries(self._prefetch):
                    self._inbox.put_nowait(delivery)
            except BrokerError as exc:
                log.warning("consuming status events failed (%s); trying again", exc)
            except Exception:  # a bug must not end the consumer silently
                log.exception("consuming status events failed; trying again")
            await asyncio.sleep(CONSUME_RETRY_S)

    async def _connect(self) -> None:
        delay_s = RETRY_MIN_S
        while True:
            try:
                await self._broker.connect()
                return
            except BrokerUnavailable as exc:
                log.debug("events queue unavailable: %s", exc)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, RETRY_MAX_S)

    # -- applying -------------------------------------------------------------------------------

    async def _apply_forever(self) -> None:
        while True:
            group = [await self._inbox.get()]
            while len(group) < self._prefetch and not self._inbox.empty():
                group.append(self._inbox.get_nowait())
            try:
                await self._apply_group(group)
            except Exception:  # a bug of ours must not end the consumer; the group comes back
                log.exception("applying status events failed; handing them back")
                for delivery in group:
                    with contextlib.suppress(Exception):
                        await self._broker.release(delivery)

    async def _apply_group(self, group: list[Delivery]) -> None:
        decoded = [item for delivery in group if (item := await self._decode(delivery))]
        if not decoded:
            return
        refused = await self._apply_until_stored([e for _, events in decoded for e in events])
        if refused is None:
            await self._done(decoded)
        elif len(decoded) == 1:
            await self._reject(decoded[0][0], refused)
        else:
            for item in decoded:  # find the batch the store refuses
                await self._apply_group([item[0]])

    async def _decode(self, delivery: Delivery) -> _Decoded | None:
        if delivery.death is not None:  # it has been taken many times and never settled
            log.error(
                "status message %s dead-lettered: %s", delivery.message_id, delivery.death.error
            )
            await self._settle(self._broker.dead_letter(delivery, delivery.death))
            return None
        try:
            return delivery, batch_events(delivery.body)
        except DecodeError as exc:
            log.error("status message %s is not an events batch: %s", delivery.message_id, exc)
            death = Death(reason=DeathReason.UNDECODABLE, error=str(exc))
            await self._settle(self._broker.dead_letter(delivery, death))
            return None

    async def _apply_until_stored(self, events: Sequence[JobEvent]) -> Exception | None:
        """Apply, waiting out a store outage; the error if the store refuses the events."""
        delay_s = 0.0
        while True:
            try:
                self.applied += await self._store.apply_events(events)
                if self._on_applied is not None:
                    self._on_applied(events)
                if delay_s:
                    log.info("the store is back: status events are applied again")
                return None
            except StoreUnavailable as exc:
                if not delay_s:
                    log.warning("cannot apply status events (%s); retrying", exc)
                delay_s = min(max(RETRY_MIN_S, delay_s * 2), RETRY_MAX_S)
                await asyncio.sleep(delay_s)
            except Exception as exc:
                return exc

    async def _done(self, decoded: list[_Decoded]) -> None:
        for delivery, _ in decoded:
            await self._settle(self._broker.ack(delivery))
        self.messages += len(decoded)
        self._watch.changed({event.job_id for _, events in decoded for event in events})

    async def _reject(self, delivery: Delivery, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        log.error("the store refused status batch %s: %s", delivery.message_id, error)
        death = Death(reason=DeathReason.REJECTED, error=error[:2000])
        await self._settle(self._broker.dead_letter(delivery, death))

    async def _settle(self, step: Awaitable[None]) -> None:
        try:
            await step
        except BrokerError as exc:  # it comes back and is applied again, harmlessly
            log.warning("settling a status message failed: %s", exc)


@contextlib.asynccontextmanager
async def consuming(
    broker: Broker, store: Store, watch: JobWatch, on_applied: Applied | None = None
) -> AsyncIterator[EventsConsumer]:
    """The events consumer running for the duration of the block (a sidecar of the API)."""
    consumer = EventsConsumer(broker, store, watch, on_applied=on_applied)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()
