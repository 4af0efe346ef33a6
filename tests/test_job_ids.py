"""Job ids: UUIDs, time-ordered, so that the store's indexes of them grow at their end."""

from __future__ import annotations

import time
import uuid

from jobqueue.job import Job, new_job_id


def test_a_job_id_is_a_version_7_uuid_carrying_its_creation_millisecond() -> None:
    before_ms = time.time_ns() // 1_000_000
    job_id = new_job_id()
    after_ms = time.time_ns() // 1_000_000

    parsed = uuid.UUID(job_id)
    assert str(parsed) == job_id  # the canonical lower-case, hyphenated form
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert before_ms <= parsed.int >> 80 <= after_ms


def test_ids_made_one_after_another_sort_in_the_order_they_were_made() -> None:
    ids = [Job(type="t", payload=None).id for _ in range(5000)]  # many share a millisecond

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
