"""Several processes on one SQLite broker file: SIGKILLed consumers, concurrent publishers."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobqueue.brokers import DeathReason, QueueDepth
from jobqueue.brokers.sqlite import SqliteBroker
from jobqueue.testing.broker import Inbox, eventually, expect_depth, sample_job

CHILD_LEASE_S = 0.5
START_TIMEOUT_S = 30.0

# Claims one job, says which, and hangs holding it until killed.
CLAIM_AND_HANG = textwrap.dedent(
    """
    import asyncio, sys
    from jobqueue.brokers.sqlite import SqliteBroker

    async def main(url: str, lease_s: float) -> None:
        broker = SqliteBroker(url, lease_s=lease_s)
        await broker.connect()
        async for delivery in broker.deliveries(1):
            print(delivery.message_id, delivery.redelivered, flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
    """
)

# Publishes `count` jobs in batches of random size while consuming and acking; writes the ids
# it published and the ids it acked to two files; stops once `stop_path` exists.
PUBLISH_AND_CONSUME = textwrap.dedent(
    """
    import asyncio, os, random, sys
    from jobqueue.brokers.sqlite import SqliteBroker
    from jobqueue.job import Job

    async def consume(broker: SqliteBroker, acked_path: str) -> None:
        with open(acked_path, "w") as acked:
            async for delivery in broker.deliveries(8):
                await broker.ack(delivery)
                acked.write(delivery.message_id + "\\n")
                acked.flush()

    async def main(url: str, count: int, folder: str, tag: str) -> None:
        broker = SqliteBroker(url)
        await broker.connect()
        consumer = asyncio.create_task(consume(broker, f"{folder}/{tag}.acked"))
        with open(f"{folder}/{tag}.published", "w") as published:
            while count:
                jobs = [Job("t", {"n": n}) for n in range(min(count, random.randint(1, 20)))]
                await broker.publish(jobs)
                published.write("".join(job.id + "\\n" for job in jobs))
                count -= len(jobs)
        while not os.path.exists(f"{folder}/stop"):
            await asyncio.sleep(0.02)
        await broker.stop_consuming()
        await consumer
        await broker.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    """
)


async def spawn(code: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, stdout=asyncio.subprocess.PIPE
    )


async def claim_in_child_and_kill_it(url: str) -> tuple[str, bool]:
    """A child process claims a job and is SIGKILLed holding it; returns (job id, redelivered)."""
    child = await spawn(CLAIM_AND_HANG, url, str(CHILD_LEASE_S))
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), START_TIMEOUT_S)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    message_id, redelivered = line.decode().split()
    return message_id, redelivered == "True"


@pytest.fixture
async def broker(sqlite_url: str) -> AsyncIterator[SqliteBroker]:
    broker = SqliteBroker(sqlite_url, lease_s=CHILD_LEASE_S, max_redeliveries=1)
    await broker.connect()
    yield broker
    await broker.close()


async def test_a_job_held_by_a_sigkilled_consumer_is_delivered_again(
    broker: SqliteBroker, sqlite_url: str
) -> None:
    job = sample_job()
    await broker.publish([job])
    assert await claim_in_child_and_kill_it(sqlite_url) == (job.id, False)
    async with Inbox(broker, prefetch=1) as inbox:
        again = await inbox.get()
        assert (again.message_id, again.redelivered) == (job.id, True)
        await broker.ack(again)
    assert await broker.depth() == QueueDepth(0, 0, 0)


async def test_a_job_that_keeps_killing_its_consumers_is_dead_lettered(
    broker: SqliteBroker, sqlite_url: str
) -> None:
    job = sample_job(attempts=1)
    await broker.publish([job])
    assert await claim_in_child_and_kill_it(sqlite_url) == (job.id, False)
    assert await claim_in_child_and_kill_it(sqlite_url) == (job.id, True)
    async with Inbox(broker, prefetch=1) as inbox:  # max_redeliveries=1: a third is the last
        worn = await inbox.get()
        assert worn.message_id == job.id
        assert worn.death is not None
        assert worn.death.reason == DeathReason.REDELIVERY_LIMIT
        assert worn.death.attempts == 1
        assert "delivered 2 times" in (worn.death.error or "")
        await broker.dead_letter(worn, worn.death)
        await expect_depth(broker, 0, 0, 1)
        await inbox.expect_nothing()
    dead = await broker.dead_job(job.id)
    assert dead is not None
    assert dead.death == worn.death
    assert dead.job == job


async def test_two_processes_publishing_and_consuming_lose_nothing_and_duplicate_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    per_child = 600
    children = [
        await spawn(PUBLISH_AND_CONSUME, sqlite_url, str(per_child), str(tmp_path), tag)
        for tag in ("a", "b")
    ]
    try:
        await eventually(
            lambda: asyncio.to_thread(_count_lines, tmp_path, "acked"),
            2 * per_child,
            timeout_s=60,
            what="jobs acked",
        )
        (tmp_path / "stop").touch()
        codes = [await asyncio.wait_for(child.wait(), START_TIMEOUT_S) for child in children]
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    assert codes == [0, 0]
    published = _read_ids(tmp_path, "published")
    acked = _read_ids(tmp_path, "acked")
    assert len(published) == len(set(published)) == 2 * per_child
    assert [id_ for id_, n in Counter(acked).items() if n > 1] == []
    assert set(acked) == set(published)
    broker = SqliteBroker(sqlite_url)
    await broker.connect()
    assert await broker.depth() == QueueDepth(0, 0, 0)
    await broker.close()


def _read_ids(folder: Path, suffix: str) -> list[str]:
    return [line for path in folder.glob(f"*.{suffix}") for line in path.read_text().split()]


def _count_lines(folder: Path, suffix: str) -> int:
    return len(_read_ids(folder, suffix))
