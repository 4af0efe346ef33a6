"""The RabbitMQ backend of the Broker protocol (AMQP 0.9.1 through pika's asyncio adapter).

Two connections, as RabbitMQ advises: one publishes (a resource alarm blocks only publishing
connections), the other consumes and settles, so acks still flow while publishing is blocked
and a consumer can drain the queue that caused the alarm. The consuming one opens on the
first call to ``deliveries``; an API process that only publishes never opens it.

Topology (declare-compatible with the original Go system): ``{queue}`` durable, dead-lettering
to exchange ``{queue}.dlx`` with key ``{queue}.dlq``; ``{queue}.dlq`` bound there; retry delays
in the TTL queues ``{queue}.retry.{ms}`` (see ``amqp.topology.RETRY_LADDER_MS``). With
``queue_type="quorum"`` the same queues are quorum queues (see ``amqp.topology``). With
``max_priority`` (``JOBQUEUE_PRIORITIES``) ``{queue}`` is a priority queue (``x-max-priority``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

from jobqueue.brokers import (
    DEFAULT_MAX_REDELIVERIES,
    DEFAULT_QUEUE,
    DeadJob,
    Death,
    DeathReason,
    Delivery,
    QueueDepth,
    redact_url,
)
from jobqueue.brokers.amqp.connection import (
    NOT_FOUND,
    Channel,
    ChannelClosed,
    Connection,
    connection_parameters,
    log,
)
from jobqueue.brokers.amqp.consumer import Consumer, Incoming, Token
from jobqueue.brokers.amqp.dlq import DeadLetters, attempts_in, death_headers, message_id_of
from jobqueue.brokers.amqp.link import Link
from jobqueue.brokers.amqp.publisher import Outgoing, Publisher
from jobqueue.brokers.amqp.topology import (
    CLASSIC,
    QUEUE_TYPES,
    Names,
    declare_retry_tier,
    declare_topology,
    job_properties,
    message_count,
    properties,
    retry_tier_ms,
)
from jobqueue.errors import BrokerError, BrokerUnavailable, ConfigError
from jobqueue.job import Job

__all__ = ["REDELIVERIES_HEADER", "RabbitmqBroker"]

REDELIVERIES_HEADER = "x-jobqueue-redeliveries"
BLOCKED_RETRY_AFTER_S = 5
REDELIVERY_BACKOFF_S = 1.0
# The longest wait between reconnect attempts. Attempts against a node that is down are
# refused at once and cost it little, so the cap is low: a broker back from a restart is
# found within a second even by a process that has nothing to send.
RECONNECT_MAX_S = 1.0
MAX_PRIORITY_ARGUMENT = 255  # RabbitMQ's own bound of x-max-priority


class RabbitmqBroker:
    """Jobs on RabbitMQ: confirmed publishes, manual acks, TTL-queue retries, a dead-letter queue.

    Create it, ``await connect()``, use it from one event loop, ``await close()``.
    ``max_priority`` (0: off, as the original) declares the queue with ``x-max-priority``.
    """

    def __init__(
        self,
        url: str,
        queue: str = DEFAULT_QUEUE,
        max_redeliveries: int = DEFAULT_MAX_REDELIVERIES,
        *,
        confirm_timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        reconnect_max_s: float = RECONNECT_MAX_S,
        queue_type: str = CLASSIC,
        max_priority: int = 0,
    ) -> None:
        if queue_type not in QUEUE_TYPES:
            raise ConfigError(f"queue type must be classic or quorum, got {queue_type!r}")
        _check_max_priority(max_priority, queue_type)
        self.names = Names(queue)
        self.queue_type = queue_type
        self.max_priority = max_priority
        self._url = url
        self._where = redact_url(url)
        self._max_redeliveries = max_redeliveries
        self._confirm_timeout_s = confirm_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._reconnect_max_s = reconnect_max_s
        self._link = self._new_link("publisher", self._set_up_publishing)
        self._consume_link: Link | None = None
        self._publisher: Publisher | None = None
        self._admin: Channel | None = None
        self._retry_tiers: set[int] = set()
        self._consumer: Consumer | None = None
        self._dead = DeadLetters(
            self.names, self._open_channel, self._send, max_priority=max_priority
        )

    # -- connecting ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and declare the topology; raises ``BrokerUnavailable`` if it cannot."""
        if not self._link.connected:
            await self._link.open()
            log.info("connected to RabbitMQ at %s (queue %r)", self._where, self.names.queue)

    async def close(self) -> None:
        """Stop consuming and close both connections; unacked deliveries go back to the queue."""
        if self._consumer is not None:
            await self._consumer.stop()
        if self._consume_link is not None:
            await self._consume_link.close()
        await self._link.close()

    async def is_ready(self) -> bool:
        """Connected, set up and not blocked by a resource alarm."""
        conn, publisher = self._link.conn, self._publisher
        return (
            conn is not None
            and conn.is_open
            and conn.blocked_reason is None
            and publisher is not None
            and publisher.channel.is_open
        )

    def _new_link(self, label: str, setup: Any) -> Link:
        return Link(
            connection_parameters(self._url, label, self._connect_timeout_s),
            self._where,
            setup,
            connect_timeout_s=self._connect_timeout_s,
            reconnect_max_s=self._reconnect_max_s,
        )

    async def _set_up_publishing(self, conn: Connection) -> None:
        admin = await Channel.open(conn, self._confirm_timeout_s)
        await declare_topology(admin, self.names, self.queue_type, self.max_priority)
        publisher = await Publisher.open(conn, self._confirm_timeout_s)
        for channel in (admin, publisher.channel):
            channel.on_close.append(functools.partial(self._on_channel_closed, channel))
        conn.on_blocked.append(
            lambda reason: publisher.fail_all(_blocked_error(reason))  # fail fast, never hang
        )
        self._admin, self._publisher, self._retry_tiers = admin, publisher, set()

    def _on_channel_closed(self, channel: Channel, exc: ChannelClosed) -> None:
        if not channel.closed_by_us:
            self._link.reset(str(exc))

    async def _open_channel(self) -> Channel:
        conn = self._link.conn
        if conn is None or not conn.is_open:
            self._link.connect_soon()
            raise self._not_connected()
        return await Channel.open(conn, self._confirm_timeout_s)

    def _not_connected(self) -> BrokerUnavailable:
        return BrokerUnavailable(f"not connected to RabbitMQ at {self._where}")

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Publish ``jobs`` to the queue; returns once RabbitMQ confirmed every one."""
        queue = self.names.queue
        await self._send([Outgoing("", queue, j.encode(), self._props(j), j.id) for j in jobs])

    def _props(self, job: Job) -> Any:
        return job_properties(job, self.max_priority)

    async def _send(self, messages: Sequence[Outgoing]) -> None:
        if not messages:
            return
        publisher = self._ready_publisher()
        batch = publisher.send(messages)
        try:
            async with asyncio.timeout(self._confirm_timeout_s):
                await batch.future
        except TimeoutError:
            publisher.forget(batch)
            raise BrokerUnavailable(
                f"RabbitMQ did not confirm {len(messages)} message(s) "
                f"within {self._confirm_timeout_s:g} s"
            ) from None
        except asyncio.CancelledError:
            publisher.forget(batch)
            raise

    def _ready_publisher(self) -> Publisher:
        conn, publisher = self._link.conn, self._publisher
        if conn is None or not conn.is_open or publisher is None or not publisher.channel.is_open:
            self._link.connect_soon()
            raise self._not_connected()
        if conn.blocked_reason is not None:
            raise _blocked_error(conn.blocked_reason)
        return publisher

    # -- consuming ----------------------------------------------------------------------------

    async def deliveries(self, prefetch: int) -> AsyncIterator[Delivery]:
        """Yield deliveries until ``stop_consuming``, reconnecting by itself when needed."""
        if self._consumer is not None and not self._consumer.stopped:
            raise BrokerError("this broker is already consuming")
        consumer = self._consumer = Consumer(
            self.names, prefetch, self._confirm_timeout_s, self.queue_type, self.max_priority
        )
        await self._start_consuming(consumer)
        try:
            while (incoming := consumer.take() or await consumer.get()) is not None:
                if not incoming.redelivered:
                    yield self._delivery(incoming)
                elif (death := self._worn_out(incoming)) is not None:
                    yield self._delivery(incoming, death)
                else:
                    await self._count_redelivery(incoming)
        finally:
            await consumer.stop()

    async def stop_consuming(self) -> None:
        """basic.cancel; deliveries already yielded can still be settled."""
        if self._consumer is not None:
            await self._consumer.stop()

    async def _start_consuming(self, consumer: Consumer) -> None:
        link, first = self._consume_link, self._consume_link is None
        if link is None:
            link = self._consume_link = self._new_link("consumer", self._attach_consumer)
        consumer.on_channel_lost = link.reset
        try:
            if first:
                await link.open()
            elif link.conn is not None and link.connected:
                await consumer.attach(link.conn)
            # else: reconnecting now, and the link's setup attaches the consumer when it is back
        except BrokerError as exc:
            log.warning("cannot consume from RabbitMQ yet (%s); retrying in the background", exc)
            if link.connected:
                link.reset(str(exc))
            else:
                link.reconnect_in_background()

    async def _attach_consumer(self, conn: Connection) -> None:
        consumer = self._consumer
        if consumer is not None and not consumer.stopped:
            await consumer.attach(conn)

    def _delivery(self, incoming: Incoming, death: Death | None = None) -> Delivery:
        props = incoming.properties
        message_id = props.message_id or message_id_of(props, incoming.body)
        redelivered = incoming.redelivered or _redeliveries(props) > 0
        headers = None if props.headers is None else _job_headers(props.headers)
        return Delivery(message_id, incoming.body, redelivered, incoming.token, death, headers)

    def _worn_out(self, incoming: Incoming) -> Death | None:
        """The verdict on a redelivery past the limit (see ``Delivery.death``), else None."""
        unsettled = _redeliveries(incoming.properties) + 1
        if unsettled <= self._max_redeliveries:
            return None
        return Death(
            reason=DeathReason.REDELIVERY_LIMIT,
            error=f"delivered {unsettled} times without being settled (did it crash its worker?)",
            attempts=attempts_in(incoming.body),
        )

    async def _count_redelivery(self, incoming: Incoming) -> None:
        """Count a delivery that came back unsettled (it is below the limit).

        RabbitMQ's classic queues only flag a redelivery; they do not count. So the count
        travels in a header of a fresh copy: republished (confirmed) to the queue's tail, then
        the original acked, and the copy arrives later as a first delivery. The count so lives
        with the message, across workers and worker restarts: a job that kills every worker
        that takes it is finally yielded with a death (``_worn_out``), for its consumer to
        dead-letter. Yielding every redelivery and counting in the worker instead would lose
        the count with each dying worker. A release (graceful shutdown) also comes back
        flagged and so counts; the limit leaves room for that.
        """
        props = incoming.properties
        message_id = message_id_of(props, incoming.body)
        unsettled = _redeliveries(props) + 1
        props.headers = {**(props.headers or {}), REDELIVERIES_HEADER: unsettled}
        try:
            await self._send([Outgoing("", self.names.queue, incoming.body, props, message_id)])
        except BrokerUnavailable as exc:
            log.warning("cannot count the redelivery of %s (%s); handing it back", message_id, exc)
            incoming.token.requeue()
            await asyncio.sleep(REDELIVERY_BACKOFF_S)
            return
        incoming.token.ack()

    # -- settling -----------------------------------------------------------------------------

    async def ack(self, delivery: Delivery) -> None:
        """basic.ack (a no-op when the delivery's channel has died: it comes back anyway)."""
        _token(delivery).ack()

    async def release(self, delivery: Delivery) -> None:
        """basic.nack with requeue: delivered again, flagged as a redelivery."""
        _token(delivery).requeue()

    async def retry(self, delivery: Delivery, job: Job, delay_s: float) -> None:
        """Publish ``job`` to the retry tier nearest ``delay_s`` (confirmed), then ack."""
        token = _token(delivery)
        if not token.channel.is_open:
            return  # the original comes back by itself; a copy now would be a duplicate
        tier_ms = retry_tier_ms(delay_s)
        routing_key = self.names.queue if tier_ms is None else await self._retry_queue(tier_ms)
        try:
            await self._send([Outgoing("", routing_key, job.encode(), self._props(job), job.id)])
        except BrokerUnavailable:
            self._retry_tiers.discard(tier_ms or 0)  # declared again next time, in case it went
            raise
        token.ack()

    async def dead_letter(self, delivery: Delivery, death: Death, job: Job | None = None) -> None:
        """Publish the body (or ``job``'s) with ``death`` to the dead-letter queue, then ack."""
        token = _token(delivery)
        if not token.channel.is_open:
            return  # the original comes back by itself; a copy now would be a duplicate
        body = delivery.body if job is None else job.encode()
        await self._send([self._dead_copy(body, delivery.message_id, death)])
        token.ack()

    async def _retry_queue(self, tier_ms: int) -> str:
        if tier_ms not in self._retry_tiers:
            admin = self._admin
            if admin is None or not admin.is_open:
                raise self._not_connected()
            await declare_retry_tier(admin, self.names, tier_ms, self.queue_type)
            self._retry_tiers.add(tier_ms)
        return self.names.retry(tier_ms)

    def _dead_copy(self, body: bytes, message_id: str, death: Death) -> Outgoing:
        # Our own publish, never basic.nack/reject: only this way the reason travels with it.
        props = properties(message_id, death_headers(death))
        return Outgoing(self.names.dlx, self.names.dlq, body, props, message_id)

    # -- inspecting ---------------------------------------------------------------------------

    async def depth(self) -> QueueDepth:
        """Ready, delayed (all retry tiers) and dead counts, by passive declares."""
        names = self.names
        counts = await asyncio.gather(
            self._count(names.queue),
            self._count(names.dlq),
            *map(self._count, names.retry_queues()),
        )
        return QueueDepth(ready=counts[0], delayed=sum(counts[2:]), dead=counts[1])

    async def _count(self, queue: str) -> int:
        # A passive declare of a missing queue closes its channel: each gets a throwaway one.
        channel = await self._open_channel()
        try:
            return await message_count(channel, queue)
        except ChannelClosed as exc:
            if exc.reply_code == NOT_FOUND:
                return 0
            raise
        finally:
            await channel.close()

    async def dead_jobs(self, limit: int = 100) -> list[DeadJob]:
        """The oldest ``limit`` dead jobs, left in the dead-letter queue in their order."""
        return await self._dead.oldest(limit) if limit > 0 else []

    async def dead_job(self, message_id: str) -> DeadJob | None:
        """One dead job by id, or None."""
        return await self._dead.find(message_id)

    async def replay(self, message_id: str) -> Job | None:
        """Publish the dead job with attempts reset (confirmed), then remove the dead copy."""
        return await self._dead.replay(message_id)

    async def replay_all(self) -> int:
        """Replay every dead job that is a job; returns how many."""
        return await self._dead.replay_all()

    async def purge_dead(self) -> int:
        """Delete every dead job; returns how many."""
        return await self._dead.purge()

    async def replay_ids(self, message_ids: Collection[str]) -> list[Job]:
        """Replay the oldest dead copy of each id that is a job, in one browse."""
        return await self._dead.replay_ids(message_ids) if message_ids else []

    async def purge_dead_ids(self, message_ids: Collection[str]) -> int:
        """Delete every dead copy of the ids, in one browse."""
        return await self._dead.purge_ids(message_ids) if message_ids else 0


def _check_max_priority(max_priority: int, queue_type: str) -> None:
    if not 0 <= max_priority <= MAX_PRIORITY_ARGUMENT:
        raise ConfigError(
            f"priorities (x-max-priority) must be 0 (off) to {MAX_PRIORITY_ARGUMENT}, "
            f"got {max_priority}"
        )
    if max_priority and queue_type != CLASSIC:
        raise ConfigError("priorities (x-max-priority) need classic queues, not quorum ones")


def _job_headers(headers: dict[str, Any]) -> dict[str, str] | None:
    """The job's own headers among a message's (ours and RabbitMQ's ``x-`` ones left out)."""
    own = {
        key: value
        for key, value in headers.items()
        if isinstance(value, str) and not key.startswith("x-")
    }
    return own or None


def _redeliveries(props: Any) -> int:
    """How many times the message came back unsettled before, by its header."""
    count = props.headers.get(REDELIVERIES_HEADER, 0) if props.headers else 0
    return count if isinstance(count, int) else 0


def _token(delivery: Delivery) -> Token:
    token = delivery.token
    if not isinstance(token, Token):
        raise BrokerError("not a delivery from a RabbitMQ broker")
    return token


def _blocked_error(reason: str) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"RabbitMQ is refusing publishes for now ({reason})", retry_after_s=BLOCKED_RETRY_AFTER_S
    )
