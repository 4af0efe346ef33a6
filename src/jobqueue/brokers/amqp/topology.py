"""Queue and exchange names, the retry delay ladder, their declarations and message properties."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pika

from jobqueue.brokers.amqp.connection import PRECONDITION_FAILED, Channel, ChannelClosed
from jobqueue.errors import BrokerError

# Retries wait in TTL queues of our own, one per delay tier: a message expires from
# ``{queue}.retry.{ms}`` after ``ms`` and RabbitMQ dead-letters it back to ``{queue}``. Every
# message in a tier has the same TTL, so expiry at the queue's head is never blocked by a
# longer delay behind it. A requested delay is quantised to the nearest tier on a log scale
# (3 s waits 2 s, 4 s waits 5 s); delays past 24 h wait 24 h.
RETRY_LADDER_MS = (
    100,
    250,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    1_200_000,
    1_800_000,
    3_600_000,
    7_200_000,
    21_600_000,
    43_200_000,
    86_400_000,
)

CONTENT_TYPE = "application/json"
PERSISTENT = 2


def retry_tier_ms(delay_s: float) -> int | None:
    """The ladder tier for ``delay_s``, or None for no delay (publish straight to the queue)."""
    if not delay_s > 0:
        return None
    delay_ms = min(max(delay_s * 1000.0, RETRY_LADDER_MS[0]), RETRY_LADDER_MS[-1])
    return min(RETRY_LADDER_MS, key=lambda tier_ms: abs(math.log(tier_ms / delay_ms)))


@dataclass(frozen=True, slots=True)
class Names:
    """Every name derived from the job queue's name (``jobs`` → ``jobs.dlx``, ``jobs.dlq``)."""

    queue: str

    @property
    def dlx(self) -> str:
        """The dead-letter exchange."""
        return f"{self.queue}.dlx"

    @property
    def dlq(self) -> str:
        """The dead-letter queue, also the routing key from the dead-letter exchange."""
        return f"{self.queue}.dlq"

    def retry(self, tier_ms: int) -> str:
        """The TTL queue holding retries delayed by ``tier_ms``."""
        return f"{self.queue}.retry.{tier_ms}"

    def retry_queues(self) -> list[str]:
        """Every retry tier queue name, shortest delay first."""
        return [self.retry(tier_ms) for tier_ms in RETRY_LADDER_MS]


async def declare_topology(channel: Channel, names: Names) -> None:
    """Declare the queue, dead-letter exchange and dead-letter queue, as the original does."""
    queue_args = {"x-dead-letter-exchange": names.dlx, "x-dead-letter-routing-key": names.dlq}
    await _declare_queue(channel, names.queue, queue_args)
    await channel.call("exchange_declare", names.dlx, exchange_type="direct", durable=True)
    await _declare_queue(channel, names.dlq, None)
    await channel.call("queue_bind", names.dlq, names.dlx, routing_key=names.dlq)


async def declare_retry_tier(channel: Channel, names: Names, tier_ms: int) -> str:
    """Declare the TTL queue for ``tier_ms`` and return its name."""
    queue_args = {
        "x-message-ttl": tier_ms,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": names.queue,
    }
    name = names.retry(tier_ms)
    await _declare_queue(channel, name, queue_args)
    return name


async def _declare_queue(channel: Channel, name: str, arguments: dict[str, Any] | None) -> None:
    try:
        await channel.call("queue_declare", name, durable=True, arguments=arguments)
    except ChannelClosed as exc:
        if exc.reply_code != PRECONDITION_FAILED:
            raise
        raise BrokerError(
            f"queue {name!r} already exists with other settings than jobqueue needs "
            f"({exc}); delete it or use another queue name"
        ) from None


async def message_count(channel: Channel, queue: str) -> int:
    """Ready messages in ``queue`` (a passive declare: a missing queue closes the channel)."""
    ok = await channel.call("queue_declare", queue, passive=True)
    return int(ok.method.message_count)


def properties(message_id: str, headers: dict[str, Any] | None = None) -> Any:
    """Properties of every message we publish: persistent JSON, the job id as message id."""
    return pika.BasicProperties(
        content_type=CONTENT_TYPE,
        delivery_mode=PERSISTENT,
        message_id=message_id,
        headers=headers,
    )
