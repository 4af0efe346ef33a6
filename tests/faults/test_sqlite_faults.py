"""The embedded SQLite broker's disk in trouble, with real API and worker processes.

The full disk is a 16 MiB tmpfs filled by a ballast file, where the machine lets the tests mount
one (as root). Where it does not, the disk is simulated: the API process may not grow any file
(RLIMIT_FSIZE 0; Python ignores SIGXFSZ, so each write fails with EFBIG, as SQLite sees a disk
that takes no more). The test says which in its verdict. A full disk may still take a commit
into space SQLite's files already hold, so some submissions while it is full are accepted.
"""

from __future__ import annotations

import pytest

from benchmarks.chaos import disk
from benchmarks.rig import Rig
from tests.faults.conftest import FAST
from tests.faults.test_rabbitmq_faults import assert_every_accepted_job_ran_once_or_more

pytestmark = pytest.mark.timeout(120)


def test_a_full_disk_answers_503_corrupts_nothing_and_accepts_again_once_there_is_room(
    fault_rig: Rig,
) -> None:
    verdict = disk.full_disk(fault_rig, FAST)

    assert_every_accepted_job_ran_once_or_more(verdict, fault_rig)
    # SQLite may still commit into pages its files already hold (a WAL restarted from its
    # start): those jobs are accepted, and durable. Nothing is ever answered but 202 or 503.
    assert set(verdict.notes["statuses_while_full"]) <= {202, 503}, verdict
    assert verdict.notes["statuses_while_full"].get(503, 0) > 0, verdict
    assert set(verdict.notes["integrity"].values()) == {"ok"}, verdict
    assert verdict.recovery_s is not None, verdict
    assert verdict.recovery_s < 2.0, verdict


def test_a_worker_killed_inside_a_commit_corrupts_nothing_and_its_jobs_run_again(
    fault_rig: Rig,
) -> None:
    verdict = disk.commit_killed(fault_rig, FAST)

    assert_every_accepted_job_ran_once_or_more(verdict, fault_rig)
    assert set(verdict.notes["integrity"].values()) == {"ok"}, verdict
    assert len(verdict.notes["integrity"]) == 2, verdict  # the broker's file and the store's
