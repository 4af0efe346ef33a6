"""Queue and exchange names, the retry delay ladder, their declarations and message properties.

Queues are classic by default, declared exactly as the original system declares them. With
``max_priority`` (``JOBQUEUE_PRIORITIES``) the jobs queue is declared with ``x-max-priority``
and each message of a job above the lowest priority carries it in its ``priority``. With
``queue_type="quorum"`` every queue (jobs, retry tiers, dead letters) is a quorum queue: replicated
across a cluster's nodes, dead-lettering at least once, and the jobs queue carries
``x-delivery-limit`` as a backstop against a message that is never settled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pika

from jobqueue.brokers.amqp.connection import PRECONDITION_FAILED, Channel, ChannelClosed
from jobqueue.errors import BrokerError
from jobqueue.job import Job

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

CLASSIC, QUORUM = "classic", "quorum"
QUEUE_TYPES = (CLASSIC, QUORUM)
# RabbitMQ's own count of a quorum message's deliveries, past which it dead-letters the message
# to {queue}.dlq (reason delivery_limit). Our count (``max_redeliveries``, 5 by default) acts
# first: a redelivery is republished as a fresh copy. RabbitMQ's counts only what ours misses,
# a consumer that never counts (the original's workers) or hand-backs while publishing is
# blocked (one a second during an alarm), so it sits well above ours.
QUORUM_DELIVERY_LIMIT = 20

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


def type_arguments(
    queue_type: str, *, dead_letters: bool = False, delivery_limit: bool = False
) -> dict[str, Any]:
    """The arguments a queue of ``queue_type`` adds: none for a classic one.

    A quorum queue that dead-letters does it at least once (which needs ``reject-publish``):
    an expired retry or a poison message is removed only once its copy is confirmed.
    """
    if queue_type == CLASSIC:
        return {}
    arguments: dict[str, Any] = {"x-queue-type": QUORUM}
    if dead_letters:
        arguments |= {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    if delivery_limit:
        arguments["x-delivery-limit"] = QUORUM_DELIVERY_LIMIT
    return arguments


async def declare_topology(
    channel: Channel, names: Names, queue_type: str = CLASSIC, max_priority: int = 0
) -> None:
    """Declare the queue (with ``x-max-priority`` when ``max_priority`` is not 0), dead-letter
    exchange and dead-letter queue (classic, without priorities: as the original does)."""
    queue_args = {
        "x-dead-letter-exchange": names.dlx,
        "x-dead-letter-routing-key": names.dlq,
        **type_arguments(queue_type, dead_letters=True, delivery_limit=True),
    }
    if max_priority:
        queue_args["x-max-priority"] = max_priority
    await _declare_queue(channel, names.queue, queue_args, max_priority)
    await channel.call("exchange_declare", names.dlx, exchange_type="direct", durable=True)
    await _declare_queue(channel, names.dlq, type_arguments(queue_type) or None)
    await channel.call("queue_bind", names.dlq, names.dlx, routing_key=names.dlq)


async def declare_retry_tier(
    channel: Channel, names: Names, tier_ms: int, queue_type: str = CLASSIC
) -> str:
    """Declare the TTL queue for ``tier_ms`` and return its name."""
    queue_args = {
        "x-message-ttl": tier_ms,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": names.queue,
        **type_arguments(queue_type, dead_letters=True),
    }
    name = names.retry(tier_ms)
    await _declare_queue(channel, name, queue_args)
    return name


async def _declare_queue(
    channel: Channel, name: str, arguments: dict[str, Any] | None, max_priority: int | None = None
) -> None:
    """Declare a durable queue; a jobs queue passes its ``max_priority`` (0: none)."""
    try:
        await channel.call("queue_declare", name, durable=True, arguments=arguments)
    except ChannelClosed as exc:
        if exc.reply_code != PRECONDITION_FAILED:
            raise
        if max_priority is not None and "x-max-priority" in str(exc):
            raise _priority_mismatch(name, max_priority) from None
        raise BrokerError(
            f"queue {name!r} already exists with other settings than jobqueue needs "
            f"({exc}); delete it or use another queue name (a queue's type, classic or "
            "quorum, cannot change in place)"
        ) from None


def _priority_mismatch(queue: str, max_priority: int) -> BrokerError:
    wanted = f"JOBQUEUE_PRIORITIES={max_priority}" if max_priority else "priorities off"
    return BrokerError(
        f"queue {queue!r} exists with another x-max-priority than {wanted} declares, and "
        "RabbitMQ cannot change it in place: set JOBQUEUE_PRIORITIES as the queue was "
        "declared, or move to a new queue name (JOBQUEUE_QUEUE) or drain, delete and "
        "redeclare it (README, Priorities)"
    )


async def message_count(channel: Channel, queue: str) -> int:
    """Ready messages in ``queue`` (a passive declare: a missing queue closes the channel)."""
    ok = await channel.call("queue_declare", queue, passive=True)
    return int(ok.method.message_count)


def properties(
    message_id: str, headers: dict[str, Any] | None = None, priority: int | None = None
) -> Any:
    """Properties of every message we publish: persistent JSON, the job id as message id."""
    return pika.BasicProperties(
        content_type=CONTENT_TYPE,
        delivery_mode=PERSISTENT,
        message_id=message_id,
        headers=headers,
        priority=priority,
    )


def job_properties(job: Job, max_priority: int = 0) -> Any:
    """The properties of ``job``'s message: its headers if it has any, and its priority when
    the queue has priorities and the job is above the lowest (none reads as 0)."""
    headers = None if job.headers is None else dict(job.headers)
    priority = job.priority if max_priority and job.priority else None
    return properties(job.id, headers, priority)
