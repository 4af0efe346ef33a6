"""Pipelined publisher confirms: a batch of messages resolves once the broker acked all of them.

A batch goes out as the frames of all its messages joined into one write: each message's
``basic.publish`` frame (the same bytes for every message to one queue, so made once), its
content header (pika marshals the properties) and its body, without pika's per-message
``basic_publish`` path of frame objects and one buffer write per frame.
"""

from __future__ import annotations

import asyncio
import struct
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

import pika.frame
import pika.spec

from jobqueue.brokers.amqp.connection import Channel, ChannelClosed, Connection
from jobqueue.errors import BrokerUnavailable

_BODY_FRAME = pika.spec.FRAME_BODY
_BODY_HEAD = struct.Struct(">BHI")  # frame type, channel, payload size
_FRAME_END = bytes((pika.spec.FRAME_END,))


class Outgoing(NamedTuple):
    """One message to publish: where to, what, and with which properties (pika's)."""

    exchange: str
    routing_key: str
    body: bytes
    properties: Any
    message_id: str


class Batch:
    """Messages published together; ``future`` resolves when the last is confirmed."""

    __slots__ = ("first_tag", "future", "message_ids", "remaining")

    def __init__(self, future: asyncio.Future[None], first_tag: int, message_ids: list[str]):
        self.future = future
        self.first_tag = first_tag
        self.message_ids = message_ids
        self.remaining = len(message_ids)

    def fail(self, error: BrokerUnavailable) -> None:
        """Resolve with ``error`` unless already resolved (or given up by its caller)."""
        if not self.future.done():
            self.future.set_exception(error)


class Publisher:
    """A channel in confirm mode; each message's delivery tag maps to the batch it belongs to.

    Every message is published ``mandatory``: an unroutable one comes back as basic.return,
    which RabbitMQ sends before that message's basic.ack, so its batch fails first. Nothing
    here waits for a lock: concurrent batches interleave on the wire and resolve on their own.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._pending: OrderedDict[int, Batch] = OrderedDict()
        self._next_tag = 1
        self._publish_frames: dict[tuple[str, str], bytes] = {}

    @classmethod
    async def open(cls, conn: Connection, timeout_s: float) -> Publisher:
        """Open a confirm-mode channel on ``conn``."""
        channel = await Channel.open(conn, timeout_s)
        publisher = cls(channel)
        await channel.call("confirm_delivery", publisher._on_confirm)
        channel.raw.add_on_return_callback(publisher._on_return)
        channel.on_close.append(publisher.fail_all)
        return publisher

    def send(self, messages: Sequence[Outgoing]) -> Batch:
        """Publish ``messages`` back to back; await the batch's future for their confirms."""
        loop = asyncio.get_running_loop()
        batch = Batch(loop.create_future(), self._next_tag, [m.message_id for m in messages])
        raw = self.channel.raw
        if not raw.is_open:
            batch.fail(self.channel.close_error or ChannelClosed("cannot publish: channel closed"))
            return batch
        connection = raw.connection
        frames = b"".join(self._frames(raw.channel_number, connection, m) for m in messages)
        connection._output_marshaled_frames((frames,))
        first, pending = self._next_tag, self._pending
        self._next_tag = first + len(messages)
        for tag in range(first, self._next_tag):
            pending[tag] = batch
        return batch

    def _frames(self, channel_number: int, connection: Any, message: Outgoing) -> bytes:
        """The wire frames of one ``mandatory`` basic.publish of ``message``."""
        route = (message.exchange, message.routing_key)
        method = self._publish_frames.get(route)
        if method is None:
            publish = pika.spec.Basic.Publish(
                exchange=message.exchange, routing_key=message.routing_key, mandatory=True
            )
            method = self._publish_frames[route] = pika.frame.Method(
                channel_number, publish
            ).marshal()
        body = message.body
        header: bytes = pika.frame.Header(channel_number, len(body), message.properties).marshal()
        step: int = connection._body_max_length
        return (
            method
            + header
            + b"".join(
                _BODY_HEAD.pack(_BODY_FRAME, channel_number, len(chunk)) + chunk + _FRAME_END
                for chunk in (body[at : at + step] for at in range(0, len(body), step))
            )
        )

    def fail_all(self, error: BrokerUnavailable) -> None:
        """Fail every batch still waiting for a confirm (connection lost, blocked, closed)."""
        for batch in set(self._pending.values()):
            batch.fail(error)
        self._pending.clear()

    def forget(self, batch: Batch) -> None:
        """Stop tracking a batch its caller gave up on (timeout or cancellation)."""
        for tag in range(batch.first_tag, batch.first_tag + len(batch.message_ids)):
            self._pending.pop(tag, None)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        tag, pending = method.delivery_tag, self._pending
        if not method.multiple:
            batch = pending.pop(tag, None)
            if batch is not None:
                self._settle(batch, acked)
            return
        while pending:
            first = next(iter(pending))
            if first > tag:
                break
            self._settle(pending.pop(first), acked)

    def _settle(self, batch: Batch, acked: bool) -> None:
        if not acked:
            batch.fail(BrokerUnavailable("RabbitMQ refused to store a message (basic.nack)"))
            return
        batch.remaining -= 1
        if batch.remaining == 0 and not batch.future.done():
            batch.future.set_result(None)

    def _on_return(self, _channel: Any, method: Any, props: Any, _body: bytes) -> None:
        message_id = props.message_id or ""
        for tag, batch in self._pending.items():
            if batch.message_ids[tag - batch.first_tag] == message_id and not batch.future.done():
                batch.fail(
                    BrokerUnavailable(
                        f"RabbitMQ could not route message {message_id!r} to "
                        f"{method.routing_key!r}: {method.reply_code} {method.reply_text}"
                    )
                )
                return
