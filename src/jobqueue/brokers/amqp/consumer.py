"""Consuming: one channel per connection generation, feeding an inbox the iterator reads."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import pika.exceptions

from jobqueue.brokers.amqp.connection import Channel, Connection, log
from jobqueue.brokers.amqp.topology import Names, declare_topology
from jobqueue.errors import BrokerUnavailable


class Token(NamedTuple):
    """A delivery's handle: its channel (one per connection generation) and delivery tag.

    Settling through a channel that has since closed does nothing: the broker already put the
    message back when the channel went, and will deliver it again.
    """

    channel: Channel
    delivery_tag: int

    def ack(self) -> None:
        """basic.ack, if the channel still lives."""
        self._send("basic_ack", self.delivery_tag)

    def requeue(self) -> None:
        """basic.nack with requeue, if the channel still lives."""
        self._send("basic_nack", self.delivery_tag, requeue=True)

    def _send(self, method: str, *args: Any, **kwargs: Any) -> None:
        if not self.channel.is_open:
            log.debug("settling delivery %d on a closed channel: skipped", self.delivery_tag)
            return
        try:
            getattr(self.channel.raw, method)(*args, **kwargs)
        except pika.exceptions.AMQPError as exc:
            log.debug("settling delivery %d failed (%s): skipped", self.delivery_tag, exc)


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

    def __init__(self, names: Names, prefetch: int, timeout_s: float) -> None:
        self._names = names
        self._prefetch = prefetch
        self._timeout_s = timeout_s
        self._inbox: deque[Incoming] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._channel: Channel | None = None
        self._consumer_tag: str | None = None
        self.stopped = False
        self.on_channel_lost: Callable[[str], None] = lambda _reason: None

    async def attach(self, conn: Connection) -> None:
        """Open a channel on ``conn`` and start consuming on it (unless stopped)."""
        channel = await Channel.open(conn, self._timeout_s)
        await declare_topology(channel, self._names)
        await channel.call("basic_qos", prefetch_count=self._prefetch)
        if self.stopped:
            await channel.close()
            return
        ok = await channel.call(
            "basic_consume",
            self._names.queue,
            lambda _raw, method, props, body: self._on_message(channel, method, props, body),
        )
        self._channel, self._consumer_tag = channel, ok.method.consumer_tag
        channel.on_close.append(lambda exc: self._on_channel_closed(channel, str(exc)))
        channel.raw.add_on_cancel_callback(
            lambda _frame: self.on_channel_lost("consumer cancelled")
        )

    async def get(self) -> Incoming | None:
        """The next live message, waiting for one; None once stopped."""
        while not self.stopped:
            while self._inbox:
                incoming = self._inbox.popleft()
                if incoming.token.channel.is_open:
                    return incoming
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return None

    async def stop(self) -> None:
        """basic.cancel, then hand back what arrived but was never handed out."""
        if self.stopped:
            return
        self.stopped = True
        self._wake()
        channel, tag = self._channel, self._consumer_tag
        if channel is not None and tag is not None and channel.is_open:
            with contextlib.suppress(BrokerUnavailable):
                await channel.call("basic_cancel", tag)
        while self._inbox:
            self._inbox.popleft().token.requeue()

    def _on_message(self, channel: Channel, method: Any, props: Any, body: bytes) -> None:
        token = Token(channel, method.delivery_tag)
        self._inbox.append(Incoming(token, bool(method.redelivered), props, body))
        self._wake()

    def _on_channel_closed(self, channel: Channel, reason: str) -> None:
        if channel.closed_by_us or self.stopped:
            return
        self.on_channel_lost(reason)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
