"""The SQLite broker's own behaviour, beyond the shared conformance suite."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobqueue.brokers import QueueDepth, from_url
from jobqueue.brokers.sqlite import SqliteBroker
from jobqueue.brokers.sqlite_store.schema import SCHEMA_VERSION
from jobqueue.errors import BrokerError, BrokerUnavailable, ConfigError
from jobqueue.job import Job
from jobqueue.testing.broker import Inbox, expect_depth, sample_death, sample_job


@pytest.fixture
async def broker(sqlite_url: str) -> AsyncIterator[SqliteBroker]:
    broker = SqliteBroker(sqlite_url)
    await broker.connect()
    yield broker
    await broker.close()


def db_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite://host/jobs.db",
        "sqlite:///dir/",
        "sqlite:///jobs.db?mode=ro",
        "sqlite:///:memory:",
        "postgres:///jobs.db",
        "jobs.db",
    ],
)
def test_a_malformed_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        SqliteBroker(url)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("lease_s", 0.0), ("poll_interval_s", -1.0), ("max_redeliveries", -1), ("queue", "")],
)
def test_a_nonsensical_setting_is_a_config_error(setting: str, value: object) -> None:
    with pytest.raises(ConfigError):
        SqliteBroker("sqlite:///jobs.db", **{setting: value})  # type: ignore[arg-type]


async def test_three_slashes_name_a_path_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    broker = from_url("sqlite:///data/queue.db")
    await broker.connect()
    await broker.close()
    assert (tmp_path / "data" / "queue.db").is_file()


async def test_four_slashes_name_an_absolute_path_whose_directory_is_created(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new" / "dir" / "queue.db"
    broker = SqliteBroker(f"sqlite:///{path}")
    assert str(path).startswith("/")
    await broker.connect()
    await broker.close()
    assert path.is_file()


async def test_an_unopenable_file_makes_connect_raise_broker_unavailable(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    broker = SqliteBroker(f"sqlite:///{tmp_path / 'taken'}")
    with pytest.raises(BrokerUnavailable, match="taken"):
        await broker.connect()


async def test_connect_records_the_schema_version_and_refuses_a_newer_one(
    sqlite_url: str,
) -> None:
    broker = SqliteBroker(sqlite_url)
    await broker.connect()
    await broker.close()
    with sqlite3.connect(db_file(sqlite_url)) as conn:
        assert conn.execute("SELECT version FROM broker_schema").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("UPDATE broker_schema SET version = version + 1")
    conn.close()
    with pytest.raises(BrokerError, match="newer"):
        await SqliteBroker(sqlite_url).connect()


async def test_a_closed_broker_is_not_ready_and_refuses_to_publish(sqlite_url: str) -> None:
    broker = SqliteBroker(sqlite_url)
    assert await broker.is_ready() is False
    await broker.connect()
    assert await broker.is_ready() is True
    await broker.close()
    assert await broker.is_ready() is False
    with pytest.raises(BrokerUnavailable):
        await broker.publish([sample_job()])


async def test_queues_sharing_a_file_keep_their_jobs_apart(sqlite_url: str) -> None:
    emails, reports = SqliteBroker(sqlite_url, "emails"), SqliteBroker(sqlite_url, "reports")
    await emails.connect()
    await reports.connect()
    try:
        email, report = sample_job(1), sample_job(2)
        await emails.publish([email])
        await reports.publish([report])
        assert await emails.depth() == QueueDepth(1, 0, 0)
        async with Inbox(reports) as inbox:
            delivery = await inbox.get()
            assert delivery.message_id == report.id
            await reports.dead_letter(delivery, sample_death())
            await inbox.expect_nothing()
        assert await emails.dead_jobs() == []
        assert await emails.depth() == QueueDepth(1, 0, 0)
        assert await reports.depth() == QueueDepth(0, 0, 1)
    finally:
        await emails.close()
        await reports.close()


async def test_a_retry_comes_back_no_sooner_than_its_exact_delay(broker: SqliteBroker) -> None:
    job = sample_job()
    await broker.publish([job])
    async with Inbox(broker, prefetch=1) as inbox:
        delay_s = 0.3
        started = time.monotonic()
        await broker.retry(await inbox.get(), job.next_attempt(), delay_s)
        again = await inbox.get()
        assert time.monotonic() - started >= delay_s
        assert Job.decode(again.body).attempts == 1
        await broker.ack(again)


async def test_a_body_of_arbitrary_bytes_is_dead_lettered_byte_for_byte(
    broker: SqliteBroker, sqlite_url: str
) -> None:
    body = b"\xff\x00 not json at all"
    with sqlite3.connect(db_file(sqlite_url)) as conn:
        conn.execute(
            "INSERT INTO broker_jobs (queue, message_id, body, visible_at) VALUES (?, ?, ?, ?)",
            (broker.queue, "raw-1", body, time.time()),
        )
    conn.close()
    async with Inbox(broker, prefetch=1) as inbox:
        delivery = await inbox.get()
        assert delivery.body == body
        await broker.dead_letter(delivery, sample_death())
    dead = await broker.dead_job("raw-1")
    assert dead is not None
    assert dead.body == body
    assert dead.job is None


async def test_release_does_not_count_toward_the_redelivery_limit(sqlite_url: str) -> None:
    broker = SqliteBroker(sqlite_url, max_redeliveries=0)
    await broker.connect()
    try:
        await broker.publish([job := sample_job()])
        async with Inbox(broker, prefetch=1) as inbox:
            for _ in range(3):
                await broker.release(await inbox.get())
            last = await inbox.get()
            assert (last.message_id, last.redelivered) == (job.id, True)
            await broker.ack(last)
        assert await broker.depth() == QueueDepth(0, 0, 0)
    finally:
        await broker.close()


async def test_a_long_job_keeps_its_lease_while_its_broker_lives(sqlite_url: str) -> None:
    lease_s = 0.3
    holder = SqliteBroker(sqlite_url, lease_s=lease_s)
    other = SqliteBroker(sqlite_url, lease_s=lease_s)
    await holder.connect()
    await other.connect()
    try:
        await holder.publish([sample_job()])
        async with Inbox(holder, prefetch=1) as held:
            delivery = await held.get()
            async with Inbox(other, prefetch=1) as waiting:
                await waiting.expect_nothing(quiet_s=lease_s * 5)
                await holder.ack(delivery)
                await waiting.expect_nothing()
        assert await other.depth() == QueueDepth(0, 0, 0)
    finally:
        await holder.close()
        await other.close()


async def test_a_settlement_after_the_lease_was_taken_over_changes_nothing(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    slow, fast = SqliteBroker(sqlite_url), SqliteBroker(sqlite_url)
    await slow.connect()
    await fast.connect()
    try:
        await slow.publish([sample_job()])
        async with Inbox(slow, prefetch=1) as inbox:
            stale = await inbox.get()
        # As if the slow consumer had stalled past its lease: the row is claimable again.
        with sqlite3.connect(db_file(sqlite_url)) as conn:
            conn.execute("UPDATE broker_jobs SET visible_at = 0")
        conn.close()
        async with Inbox(fast, prefetch=1) as inbox:
            current = await inbox.get()
            assert current.redelivered is True
            with caplog.at_level(logging.WARNING):
                await slow.dead_letter(stale, sample_death())
            assert "had no effect" in caplog.text
            assert await fast.dead_jobs() == []
            await fast.ack(current)
        assert await fast.depth() == QueueDepth(0, 0, 0)
    finally:
        await slow.close()
        await fast.close()


async def test_depth_counts_a_delivery_whose_lease_expired_as_ready(sqlite_url: str) -> None:
    broker = SqliteBroker(sqlite_url)
    await broker.connect()
    try:
        await broker.publish([sample_job()])
        async with Inbox(broker, prefetch=1) as inbox:
            await inbox.get()
            assert await broker.depth() == QueueDepth(0, 0, 0)
            with sqlite3.connect(db_file(sqlite_url)) as conn:
                conn.execute("UPDATE broker_jobs SET visible_at = 0")
            conn.close()
            assert await broker.depth() == QueueDepth(1, 0, 0)
    finally:
        await broker.close()


async def test_replay_all_works_through_more_than_one_batch(broker: SqliteBroker) -> None:
    jobs = [sample_job(n, attempts=3) for n in range(1200)]
    await broker.publish(jobs)
    async with Inbox(broker, prefetch=100) as inbox:
        for _ in jobs:
            await broker.dead_letter(await inbox.get(), sample_death())
    await expect_depth(broker, 0, 0, len(jobs))
    assert await broker.replay_all() == len(jobs)
    assert await broker.depth() == QueueDepth(len(jobs), 0, 0)


async def test_the_broker_and_the_job_store_share_one_file(
    broker: SqliteBroker, sqlite_url: str
) -> None:
    from jobqueue.store import from_url as store_from_url

    store = store_from_url(sqlite_url)
    await store.connect()
    try:
        await store.upgrade()
        await broker.publish([job := sample_job()])
        await store.record_submitted([job])
        assert await store.schema_version() is not None
        async with Inbox(broker, prefetch=1) as inbox:
            await broker.ack(await inbox.get())
        assert await broker.depth() == QueueDepth(0, 0, 0)
    finally:
        await store.close()


async def test_a_broker_skipping_types_claims_only_the_others_and_leaves_them_due(
    broker: SqliteBroker, sqlite_url: str
) -> None:
    jobs = [Job("resize", {"n": n}) for n in range(3)] + [Job("email", {}), Job("resize", {})]
    await broker.publish(jobs)
    broker.skip_types({"resize", "pdf"})
    async with Inbox(broker, prefetch=10) as inbox:
        [email] = [await inbox.get()]
        assert email.message_id == jobs[3].id
        await inbox.expect_nothing()
        await broker.ack(email)
    await expect_depth(broker, ready=4, delayed=0, dead=0)

    other = SqliteBroker(sqlite_url)
    await other.connect()
    try:
        async with Inbox(other, prefetch=10) as inbox:
            taken = await inbox.get_many(4)
            assert sorted(d.message_id for d in taken) == sorted(
                j.id for j in jobs if j.type == "resize"
            )
            for delivery in taken:
                await other.ack(delivery)
    finally:
        await other.close()


async def test_skipping_no_types_again_claims_every_row(broker: SqliteBroker) -> None:
    await broker.publish([Job("resize", {})])
    broker.skip_types({"resize"})
    broker.skip_types(())
    async with Inbox(broker, prefetch=1) as inbox:
        delivery = await inbox.get()
        await broker.ack(delivery)


async def test_a_version_1_file_gets_the_job_type_of_each_waiting_row(sqlite_url: str) -> None:
    from jobqueue.brokers.sqlite_store.schema import MIGRATIONS

    path = db_file(sqlite_url)
    job = Job("resize", {})
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("CREATE TABLE broker_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO broker_schema VALUES (1)")
        conn.executemany(
            "INSERT INTO broker_jobs (queue, message_id, body, visible_at)"
            " VALUES ('jobs', ?, ?, 0)",
            [(job.id, job.encode()), ("junk", b"\xff not json")],
        )
    broker = SqliteBroker(sqlite_url)
    await broker.connect()
    try:
        broker.skip_types({"resize"})
        async with Inbox(broker, prefetch=10) as inbox:
            [junk] = [await inbox.get()]
            assert junk.message_id == "junk"  # a body that is not a job goes to anyone
            await inbox.expect_nothing()
            await broker.ack(junk)
    finally:
        await broker.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT version FROM broker_schema").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("SELECT job_type FROM broker_jobs").fetchall() == [("resize",)]
