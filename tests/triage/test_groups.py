"""Grouping dead jobs by fingerprint, and replaying or purging them, on the real SQLite broker."""

from __future__ import annotations

from pathlib import Path

from jobqueue.brokers import Broker, Death
from jobqueue.job import Job
from jobqueue.store import default_store_url
from jobqueue.testing.broker import eventually
from jobqueue.triage.groups import dead_groups, group_dead_jobs
from jobqueue.triage.replay import Replays, chunk_size, group_ids, purge_group
from tests.api.conftest import make_dead, queued_jobs
from tests.store.conftest import open_store


def _failed(error: str, at: str = "2026-01-02T03:04:05.000Z") -> Death:
    traceback = f'Traceback (most recent call last):\n  File "h.py", line 1\n{error}\n'
    return Death("max_attempts", error=error, traceback=traceback, attempts=3, failed_at=at)


async def _seed(broker: Broker) -> dict[str, list[str]]:
    """Three groups of email jobs: 5 KeyErrors, 3 ValueErrors, 1 TypeError, a second apart."""
    jobs = [Job(type="email", payload={"n": n}) for n in range(9)]
    errors = {job.id: f"KeyError: 'user {n}'" for n, job in enumerate(jobs[:5])}
    errors |= {job.id: f"ValueError: bad address {n}" for n, job in enumerate(jobs[5:8])}
    errors[jobs[8].id] = "TypeError: not a str"
    stamps = {job.id: f"2026-01-02T03:04:0{n}.000Z" for n, job in enumerate(jobs)}
    await make_dead(broker, jobs, lambda job: _failed(errors[job.id], stamps[job.id]))
    return {
        "KeyError": [job.id for job in jobs[:5]],
        "ValueError": [job.id for job in jobs[5:8]],
        "TypeError": [jobs[8].id],
    }


async def test_dead_jobs_group_by_fingerprint_biggest_first(broker: Broker) -> None:
    seeded = await _seed(broker)

    groups = await dead_groups(broker, 100)

    assert [(g.error_type, g.count) for g in groups] == [
        ("KeyError", 5),
        ("ValueError", 3),
        ("TypeError", 1),
    ]
    keys = groups[0]
    assert keys.job_type == "email"
    assert keys.message == "'<v>'"
    assert keys.sample_job_id == seeded["KeyError"][-1]
    assert keys.sample_error == "KeyError: 'user 4'"
    assert keys.sample_traceback is not None
    assert keys.sample_traceback.endswith("'user 4'\n")
    assert keys.first_seen_unix is not None
    assert keys.last_seen_unix is not None
    assert keys.last_seen_unix - keys.first_seen_unix == 4.0
    assert len({g.fingerprint for g in groups}) == 3


async def test_the_scan_limit_bounds_what_is_grouped(broker: Broker) -> None:
    await _seed(broker)

    groups = await dead_groups(broker, 4)

    assert [(g.error_type, g.count) for g in groups] == [("KeyError", 4)]


async def test_a_body_that_is_not_a_job_groups_by_its_reason(broker: Broker) -> None:
    jobs = [Job(type="", payload=1)]  # encodes, but no worker would take it as a job
    await make_dead(broker, jobs, lambda job: Death("undecodable", error="bad json at 3"))

    [group] = group_dead_jobs(await broker.dead_jobs())

    assert (group.job_type, group.error_type, group.message) == (
        None,
        "undecodable",
        "bad json at <n>",
    )
    assert await group_ids(broker, group.fingerprint, 100) == []


async def test_a_group_replays_at_a_pace_and_is_recorded_as_queued(
    broker: Broker, tmp_path: Path
) -> None:
    seeded = await _seed(broker)
    [keys, *_] = await dead_groups(broker, 100)
    async with open_store(default_store_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")) as store:
        replays = Replays(broker, store)
        ids = await group_ids(broker, keys.fingerprint, 100)
        assert ids == seeded["KeyError"]

        replays.start(ids, per_second=50.0)
        await replays.wait()

        assert replays.running == 0
        assert {job.id for job in await queued_jobs(broker, 5)} == set(seeded["KeyError"])
        assert [(g.error_type, g.count) for g in await dead_groups(broker, 100)] == [
            ("ValueError", 3),
            ("TypeError", 1),
        ]
        for job_id in ids:
            record = await store.get(job_id)
            assert record is not None
            assert record.state.value == "queued"


async def test_a_closed_replayer_leaves_the_rest_dead(broker: Broker) -> None:
    seeded = await _seed(broker)
    replays = Replays(broker, None)

    async def dead_count() -> int:
        return len(await broker.dead_jobs())

    replays.start(seeded["KeyError"], per_second=0.001)  # the first now, the next in 1000 s
    await eventually(dead_count, 8, what="dead jobs")
    await replays.close()
    replays.start(seeded["ValueError"])  # refused once closed

    assert replays.running == 0
    assert await dead_count() == 8


async def test_purging_a_group_deletes_only_its_dead_jobs(broker: Broker) -> None:
    await _seed(broker)
    [keys, values, types] = await dead_groups(broker, 100)

    assert await purge_group(broker, values.fingerprint, 100) == 3
    assert await purge_group(broker, values.fingerprint, 100) is None

    assert [g.fingerprint for g in await dead_groups(broker, 100)] == [
        keys.fingerprint,
        types.fingerprint,
    ]


def test_the_chunk_is_about_a_second_of_the_pace() -> None:
    assert [chunk_size(pace) for pace in (None, 0.2, 1.0, 7.9, 5000.0)] == [100, 1, 1, 7, 100]
