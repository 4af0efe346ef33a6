"""Consuming: one channel per connection generation, feeding an inbox the iterator reads."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import pika.exceptions

from jobqueue.brokers.amqp.connection import Channel, Connection, log
from jobqueue.brokers.amqp.topology import CLASSIC, Names, declare_topology
from jobqueue.errors import BrokerUnavailable

COMPACT_SLACK = 1024
"""Settled tags a channel's delivery order may keep behind an old unsettled one."""


class Settlements:
    """One channel's settlements, sent once per loop turn, the acks coalesced.

    ``basic.ack(multiple=True)`` of tag N acks every message still unacked on the channel
    with a tag up to N. So the acks of a turn are sent as one multiple ack only up to the
    lowest tag still unsettled here (a handler still running, a retry waiting for its copy's
    confirm): no delivery is ever acked by another's ack. The acks of tags above it go out
    one by one (holding them back would hold the prefetch window). The turn's nacks go out
    first, one by one, so none is still unacked when a multiple ack is sent; tags only rise on
    a channel, and a message RabbitMQ has not delivered yet gets a tag above every seen one.

    Settling through a channel that has since closed does nothing: the broker already put its
    messages back, and will deliver them again.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._unsettled: set[int] = set()
        self._order: deque[int] = deque()  # delivered tags, rising; settled ones dropped lazily
        self._acks: list[int] = []  # settled since the last flush
        self._nacks: list[int] = []
        self._flush_due = False

    def delivered(self, delivery_tag: int) -> None:
        """A message arrived with ``delivery_tag``."""
        self._unsettled.add(delivery_tag)
        self._order.append(delivery_tag)

    def ack(self, delivery_tag: int) -> None:
        """basic.ack at the end of this loop turn, coalesced with the turn's other acks."""
        self._unsettled.discard(delivery_tag)
        self._acks.append(delivery_tag)
        self._flush_soon()

    def requeue(self, delivery_tag: int) -> None:
        """basic.nack with requeue at the end of this loop turn."""
        self._unsettled.discard(delivery_tag)
        self._nacks.append(delivery_tag)
        self._flush_soon()

    def flush(self) -> None:
        """Send what was settled since the last flush, now."""
        self._flush_due = False
        acks, nacks = self._acks, self._nacks
        if not acks and not nacks:
            return
        self._acks, self._nacks = [], []
        if not self.channel.is_open:
            log.debug("settling %d deliveries on a closed channel: skipped", len(acks + nacks))
            return
        for tag in nacks:
            self._send("basic_nack", tag, requeue=True)
        lowest = self._lowest_unsettled()
        below = acks if lowest is None else [tag for tag in acks if tag < lowest]
        highest_below = max(below, default=0)
        if below:
            self._send("basic_ack", highest_below, multiple=True)
        if len(below) < len(acks):
            for tag in acks:
                if tag > highest_below:
                    self._send("basic_ack", tag)

    def _lowest_unsettled(self) -> int | None:
        order, unsettled = self._order, self._unsettled
        while order and order[0] not in unsettled:
            order.popleft()
        if len(order) > 2 * len(unsettled) + COMPACT_SLACK:  # an old delivery holds the front
            self._order = order = deque(tag for tag in order if tag in unsettled)
        return order[0] if order else None

    def _flush_soon(self) -> None:
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self.flush)

    def _send(self, method: str, delivery_tag: int, **kwargs: Any) -> None:
        try:
            getattr(self.channel.raw, method)(delivery_tag, **kwargs)
        except pika.exceptions.AMQPError as exc:
            log.debug("settling delivery %d failed (%s): skipped", delivery_tag, exc)


class Token(NamedTuple):
    """A delivery's handle: the settlements of its channel (one per connection generation)
    and its delivery tag."""

    settlements: Settlements
    delivery_tag: int

    @property
    def channel(self) -> Channel:
        """The channel the delivery came on."""
        return self.settlements.channel

    def ack(self) -> None:
        """basic.ack (coalesced), if the channel still lives."""
        self.settlements.ack(self.delivery_tag)

    def requeue(self) -> None:
        """basic.nack with requeue, if the channel still lives."""
        self.settlements.requeue(self.delivery_tag)


class Incoming(NamedTuple):
    """A message as pika handed it over, with the token to settle it."""

    token: Token
    redelivered: bool
    properties: Any
    body: bytes


class Consumer:
    """Consumes the job queue with a prefetch limit, across reconnects, until stopped.

    ``attach`` runs on every new connection (it is the consuming link's setup): a fresh
    channel, basic.qos, basic.consume. Messages land in an inbox; ``get`` hands them out,
    dropping those whose channel has died meanwhile (they are redelivered anyway).
    """

    def __init__(
        self,
        names: Names,
        prefetch: int,
        timeout_s: float,
        queue_type: str = CLASSIC,
        max_priority: int = 0,
    ) -> None:
        self._names = names
        self._queue_type = queue_type
        self._max_priority = max_priority
        self._prefetch = prefetch
        self._timeout_s = timeout_s
        self._inbox: deque[Incoming] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._channel: Channel | None = None
        self._settlements: Settlements | None = None
        self._consumer_tag: str | None = None
        self.stopped = False
        self.on_channel_lost: Callable[[str], None] = lambda _reason: None

    async def attach(self, conn: Connection) -> None:
        """Open a channel on ``conn`` and start consuming on it (unless stopped)."""
        channel = await Channel.open(conn, self._timeout_s)
        await declare_topology(channel, self._names, self._queue_type, self._max_priority)
        await channel.call("basic_qos", prefetch_count=self._prefetch)
        if self.stopped:
            await channel.close()
            return
        settlements = Settlements(channel)
        ok = await channel.call(
            "basic_consume",
            self._names.queue,
            lambda _raw, method, props, body: self._on_message(settlements, method, props, body),
        )
        self._channel, self._consumer_tag = channel, ok.method.consumer_tag
        self._settlements = settlements
        channel.on_close.append(lambda exc: self._on_channel_closed(channel, str(exc)))
        channel.raw.add_on_cancel_callback(
            lambda _frame: self.on_channel_lost("consumer cancelled")
        )

    def take(self) -> Incoming | None:
        """The next live message if one is waiting (and not stopped), else None."""
        inbox = self._inbox
        while inbox and not self.stopped:
            incoming = inbox.popleft()
            if incoming.token.settlements.channel.is_open:
                return incoming
        return None

    async def get(self) -> Incoming | None:
        """The next live message, waiting for one; None once stopped."""
        while not self.stopped:
            if (incoming := self.take()) is not None:
                return incoming
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return None

    async def stop(self) -> None:
        """basic.cancel, then hand back what arrived but was never handed out; in any case
        send the settlements still waiting for the end of the loop turn."""
        if self.stopped:
            self._flush()
            return
        self.stopped = True
        self._wake()
        channel, tag = self._channel, self._consumer_tag
        if channel is not None and tag is not None and channel.is_open:
            with contextlib.suppress(BrokerUnavailable):
                await channel.call("basic_cancel", tag)
        while self._inbox:
            self._inbox.popleft().token.requeue()
        self._flush()

    def _flush(self) -> None:
        if self._settlements is not None:
            self._settlements.flush()

    def _on_message(self, settlements: Settlements, method: Any, props: Any, body: bytes) -> None:
        tag = method.delivery_tag
        settlements.delivered(tag)
        self._inbox.append(Incoming(Token(settlements, tag), method.redelivered, props, body))
        self._wake()

    def _on_channel_closed(self, channel: Channel, reason: str) -> None:
        if channel.closed_by_us or self.stopped:
            return
        self.on_channel_lost(reason)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
