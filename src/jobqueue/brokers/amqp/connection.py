"""Typed asyncio wrappers over pika's callback API: a connection and its channels as futures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.adapters.utils import connection_workflow

from jobqueue.brokers import redact_text, redact_url
from jobqueue.errors import BrokerUnavailable, ConfigError

log = logging.getLogger("jobqueue.rabbitmq")

# AMQP reply codes this backend reacts to.
NOT_FOUND = 404
PRECONDITION_FAILED = 406


class ChannelClosed(BrokerUnavailable):
    """A channel (or its connection) closed while an operation on it waited."""

    def __init__(self, message: str, reply_code: int = 0) -> None:
        super().__init__(message)
        self.reply_code = reply_code


def describe(exc: BaseException | None) -> str:
    """A short, password-free account of why pika closed a connection or channel."""
    if exc is None:
        return "closed"
    if isinstance(exc, pika.exceptions.ChannelClosed | pika.exceptions.ConnectionClosed):
        return f"{exc.reply_code} {exc.reply_text}"
    if isinstance(exc, connection_workflow.AMQPConnectionWorkflowFailed) and exc.exceptions:
        return describe(exc.exceptions[-1])
    wrapped = getattr(exc, "exception", None) or (exc.args[0] if len(exc.args) == 1 else None)
    if isinstance(wrapped, BaseException):  # pika wraps the cause in layers of its own
        return describe(wrapped)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def reply_code(exc: BaseException | None) -> int:
    """The AMQP reply code carried by a pika close reason, or 0."""
    if isinstance(exc, pika.exceptions.ChannelClosed | pika.exceptions.ConnectionClosed):
        code = exc.reply_code
        return code if isinstance(code, int) else 0
    return 0


def connection_parameters(url: str, label: str, connect_timeout_s: float) -> Any:
    """pika parameters for ``url``, with our timeouts and a connection name for the broker UI."""
    try:
        params = pika.URLParameters(url)
    except Exception as exc:  # pika's own ValueErrors, and amqps's ssl_options files
        why = redact_text(_why(exc), url)  # pika's messages quote pieces of the URL
        raise ConfigError(f"invalid broker URL {redact_url(url)!r}: {why}") from None
    params.socket_timeout = connect_timeout_s
    params.stack_timeout = connect_timeout_s
    params.connection_attempts = 1
    params.client_properties = {"connection_name": f"jobqueue {label}"}
    return params


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:  # a CA, certificate or key file of ssl_options
        return exc.strerror if exc.filename is None else f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


class _CoalescingConnection(AsyncioConnection):  # type: ignore[misc]
    """pika's asyncio connection, sending every frame written in one loop iteration at once.

    pika hands each frame (three per published message, one per ack) to its transport, which
    makes one ``send`` system call per frame. Gathering them until the loop is next idle turns
    a burst of a thousand publishes into a handful of system calls.
    """

    def __init__(self, *args: Any, custom_ioloop: asyncio.AbstractEventLoop, **kwargs: Any):
        self._pending_frames: list[bytes] = []
        self._loop = custom_ioloop
        super().__init__(*args, custom_ioloop=custom_ioloop, **kwargs)

    def _adapter_emit_data(self, data: bytes) -> None:
        frames = self._pending_frames
        frames.append(data)
        if len(frames) == 1:
            self._loop.call_soon(self._flush_frames)

    def _flush_frames(self) -> None:
        frames, self._pending_frames = self._pending_frames, []
        if frames and self._transport is not None:
            super()._adapter_emit_data(b"".join(frames))


class Connection:
    """One open pika connection; ``closed`` resolves (with a reason) when it goes away."""

    def __init__(self, raw: Any, closed: asyncio.Future[str]) -> None:
        self.raw = raw
        self.closed = closed
        self.blocked_reason: str | None = None
        self.on_blocked: list[Callable[[str], None]] = []
        raw.add_on_connection_blocked_callback(self._on_blocked)
        raw.add_on_connection_unblocked_callback(self._on_unblocked)

    @classmethod
    async def open(cls, params: Any, where: str, timeout_s: float) -> Connection:
        """Connect to ``where`` (a redacted URL, for messages) within ``timeout_s``."""
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = loop.create_future()
        closed: asyncio.Future[str] = loop.create_future()

        def on_open(_raw: Any) -> None:
            if not opened.done():
                opened.set_result(None)

        def on_open_error(_raw: Any, exc: BaseException) -> None:
            if not opened.done():
                opened.set_exception(
                    BrokerUnavailable(f"cannot connect to RabbitMQ at {where}: {describe(exc)}")
                )

        def on_close(_raw: Any, exc: BaseException) -> None:
            if not closed.done():
                closed.set_result(describe(exc))

        raw = _CoalescingConnection(params, on_open, on_open_error, on_close, custom_ioloop=loop)
        try:
            async with asyncio.timeout(timeout_s):
                await opened
        except TimeoutError:
            _abort(raw)
            raise BrokerUnavailable(
                f"cannot connect to RabbitMQ at {where}: no answer within {timeout_s:g} s"
            ) from None
        except BaseException:
            _abort(raw)
            raise
        return cls(raw, closed)

    @property
    def is_open(self) -> bool:
        """Whether the connection is open and not closing."""
        return bool(self.raw.is_open) and not self.closed.done()

    def abort(self) -> None:
        """Start closing; ``closed`` resolves when done. A closed connection is left alone."""
        _abort(self.raw)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Close cleanly (channels first, as AMQP wants) and wait until it is closed."""
        _abort(self.raw)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self.closed)

    def _on_blocked(self, _raw: Any, frame: Any) -> None:
        reason = getattr(frame.method, "reason", "") or "resource alarm"
        self.blocked_reason = str(reason)
        log.warning("RabbitMQ blocked publishing: %s", reason)
        for callback in list(self.on_blocked):
            callback(self.blocked_reason)

    def _on_unblocked(self, _raw: Any, _frame: Any) -> None:
        self.blocked_reason = None
        log.info("RabbitMQ unblocked publishing")


def _abort(raw: Any) -> None:
    """Close a pika connection in whatever state it is in; a closed one is left alone."""
    if raw.is_closing or raw.is_closed:
        return
    with contextlib.suppress(pika.exceptions.AMQPError):
        raw.close()


class Channel:
    """One pika channel: RPCs as awaitables that fail with :class:`ChannelClosed` if it closes."""

    def __init__(self, raw: Any, timeout_s: float) -> None:
        self.raw = raw
        self.timeout_s = timeout_s
        self.closed_by_us = False
        self.close_error: ChannelClosed | None = None
        self.on_close: list[Callable[[ChannelClosed], None]] = []
        self._waiting: set[asyncio.Future[Any]] = set()
        raw.add_on_close_callback(self._on_close)

    @classmethod
    async def open(cls, conn: Connection, timeout_s: float) -> Channel:
        """Open a new channel on ``conn``."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Any] = loop.create_future()
        try:
            raw = conn.raw.channel(on_open_callback=lambda _ch: _resolve(ready, None))
        except pika.exceptions.AMQPError as exc:
            raise ChannelClosed(f"cannot open a channel: {describe(exc)}") from None
        channel = cls(raw, timeout_s)
        channel._waiting.add(ready)
        await channel.wait(ready)
        return channel

    @property
    def is_open(self) -> bool:
        """Whether operations on this channel can still succeed."""
        return self.close_error is None and bool(self.raw.is_open)

    def future(self) -> asyncio.Future[Any]:
        """A future that fails with :class:`ChannelClosed` if the channel closes first."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.close_error is not None:
            fut.set_exception(self.close_error)
        self._waiting.add(fut)
        return fut

    async def wait(self, fut: asyncio.Future[Any]) -> Any:
        """Await ``fut`` (from :meth:`future`) for at most ``timeout_s``."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await fut
        except TimeoutError:
            raise BrokerUnavailable(
                f"RabbitMQ did not answer within {self.timeout_s:g} s"
            ) from None
        finally:
            self._waiting.discard(fut)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run the pika RPC ``method`` and return what its completion callback receives."""
        fut = self.future()
        try:
            getattr(self.raw, method)(*args, callback=lambda *reply: _resolve(fut, reply), **kwargs)
        except pika.exceptions.AMQPError as exc:
            self._waiting.discard(fut)
            raise self.close_error or ChannelClosed(f"channel unusable: {describe(exc)}") from None
        reply = await self.wait(fut)
        return reply[0] if len(reply) == 1 else reply

    async def close(self) -> None:
        """Close the channel (unacked messages on it go back to their queues)."""
        self.closed_by_us = True
        if not self.is_open:
            return
        fut = self.future()
        with contextlib.suppress(pika.exceptions.AMQPError):
            self.raw.close()
        with contextlib.suppress(BrokerUnavailable):
            await self.wait(fut)

    def _on_close(self, _raw: Any, exc: BaseException) -> None:
        error = ChannelClosed(f"channel closed: {describe(exc)}", reply_code(exc))
        self.close_error = error
        for fut in self._waiting:
            if not fut.done():
                fut.set_exception(error)
        self._waiting.clear()
        for callback in list(self.on_close):
            callback(error)


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)
