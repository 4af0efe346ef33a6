"""Our own processes failing, on RabbitMQ (a private node) and on the embedded SQLite broker: a
worker frozen and resumed, the API killed while batches are in flight."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from benchmarks.chaos import processes
from benchmarks.rabbitnode import PrivateNode
from benchmarks.rig import Rig
from tests.faults.conftest import FAST
from tests.faults.test_rabbitmq_faults import assert_every_accepted_job_ran_once_or_more

pytestmark = pytest.mark.timeout(120)

BrokerOf = Callable[[Rig], tuple[str, str]]


def on_sqlite(rig: Rig) -> tuple[str, str]:
    """A fresh embedded broker file in the rig's scratch folder, and its queue."""
    return rig.sqlite_url("jobs"), "jobs"


@pytest.fixture(params=["rabbitmq", "sqlite"])
def broker_of(request: pytest.FixtureRequest) -> BrokerOf:
    """Where a test's fleet runs: a fresh queue on the private node, or a fresh SQLite file."""
    if request.param == "sqlite":
        return on_sqlite
    node: PrivateNode = request.getfixturevalue("private_rabbitmq")

    def on_node(rig: Rig) -> tuple[str, str]:
        rig.options.amqp_url = node.url
        return node.url, rig.queue("proc")

    return on_node


def test_a_frozen_workers_jobs_run_elsewhere_and_its_late_finish_leaves_them_succeeded(
    broker_of: BrokerOf, fault_rig: Rig
) -> None:
    verdict = processes.worker_freeze(fault_rig, *broker_of(fault_rig), FAST)

    assert_every_accepted_job_ran_once_or_more(verdict, fault_rig)
    assert verdict.recovery_s is not None
    assert verdict.recovery_s < 20.0, verdict


def test_an_api_killed_mid_batch_loses_no_job_it_answered_202(
    broker_of: BrokerOf, fault_rig: Rig
) -> None:
    verdict = processes.api_killed(fault_rig, *broker_of(fault_rig), FAST)

    assert_every_accepted_job_ran_once_or_more(verdict, fault_rig)
    assert set(verdict.statuses) <= {0, 202, 503}, verdict
