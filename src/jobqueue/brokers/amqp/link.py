"""A connection kept alive: reconnects with capped exponential backoff and re-runs its setup."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

from jobqueue.brokers.amqp.connection import Connection, log
from jobqueue.errors import BrokerError

Setup = Callable[[Connection], Awaitable[None]]

FIRST_RETRY_DELAY_S = 0.1
# Between two attempts however urgent: a stream of publishes against a broker that is down
# must not become a stream of connection attempts.
DEMAND_GAP_S = 0.05


class Link:
    """One AMQP connection that comes back by itself after it is lost.

    ``setup`` runs on every new connection (declare, open channels, start consuming); until it
    has finished the link is not ``connected``. A channel that dies unexpectedly calls
    :meth:`reset`, which drops the whole connection: channel errors are rare and a clean
    reconnect puts every channel back in a known state.
    """

    def __init__(
        self,
        params: Any,
        where: str,
        setup: Setup,
        *,
        connect_timeout_s: float,
        reconnect_max_s: float,
    ) -> None:
        self._params = params
        self._where = where
        self._setup = setup
        self._connect_timeout_s = connect_timeout_s
        self._reconnect_max_s = reconnect_max_s
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()
        self.conn: Connection | None = None

    @property
    def connected(self) -> bool:
        """Whether the connection is open and set up."""
        return self.conn is not None and self.conn.is_open

    async def open(self) -> None:
        """Connect once and run the setup; raises ``BrokerUnavailable`` (or ``BrokerError``)."""
        conn = await Connection.open(self._params, self._where, self._connect_timeout_s)
        try:
            await self._setup(conn)
        except BaseException:
            await conn.close()
            raise
        if self._closing:
            await conn.close()
            return
        self.conn = conn
        conn.closed.add_done_callback(lambda fut: self._on_lost(conn, fut))

    def reconnect_in_background(self) -> None:
        """Keep trying to connect, with backoff, until it works or the link is closed."""
        if self._closing or (self._reconnecting and not self._reconnecting.done()):
            return
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    def connect_soon(self) -> None:
        """Cut the reconnect loop's wait short: an operation needs the connection now.

        The backoff spares a broker that is down; once it is back, the first publish that
        finds the link down brings the next attempt forward instead of waiting out the delay.
        """
        if self._reconnecting is not None and not self._reconnecting.done():
            self._wanted.set()

    def reset(self, reason: str) -> None:
        """Drop the connection after a channel failed; the reconnect loop takes over."""
        conn = self.conn
        if self._closing or conn is None or not conn.is_open:
            return
        log.warning("RabbitMQ channel failed (%s); reconnecting", reason)
        conn.abort()

    async def close(self) -> None:
        """Close the connection and stop reconnecting."""
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        if self.conn is not None:
            await self.conn.close()
            self.conn = None

    def _on_lost(self, conn: Connection, closed: asyncio.Future[str]) -> None:
        if conn is not self.conn:
            return
        self.conn = None
        if self._closing:
            return
        log.warning(
            "RabbitMQ connection to %s lost (%s); reconnecting", self._where, closed.result()
        )
        self.reconnect_in_background()

    async def _reconnect(self) -> None:
        delay_s = FIRST_RETRY_DELAY_S
        while not self._closing:
            # Jitter keeps a fleet of workers from reconnecting in lockstep after a restart.
            await self._pause(delay_s * random.uniform(0.5, 1.0))
            try:
                await self.open()
            except BrokerError as exc:
                delay_s = min(delay_s * 2, self._reconnect_max_s)
                log.warning("RabbitMQ reconnect failed: %s (next try within %.1f s)", exc, delay_s)
                continue
            log.info("RabbitMQ connection to %s restored", self._where)
            return

    async def _pause(self, delay_s: float) -> None:
        """Wait ``delay_s``, or less once :meth:`connect_soon` asks (never under the gap)."""
        await asyncio.sleep(min(DEMAND_GAP_S, delay_s))
        self._wanted.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, delay_s - DEMAND_GAP_S)):
                await self._wanted.wait()
