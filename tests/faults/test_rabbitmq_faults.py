"""RabbitMQ faults on a private node, with a real API and worker: every 202 runs, and both
recover by themselves."""

from __future__ import annotations

import pytest

from benchmarks.chaos import rabbit
from benchmarks.chaos.fleet import Verdict
from benchmarks.rabbitnode import PrivateNode
from benchmarks.rig import Rig
from tests.faults.conftest import FAST

pytestmark = [pytest.mark.rabbitmq, pytest.mark.timeout(120)]

# A worker holds at most its prefetch unsettled (4 x concurrency, at least 128): a fault that
# takes its channel can make each of those run twice, no more.
PREFETCH = 128


def assert_every_accepted_job_ran_once_or_more(verdict: Verdict, rig: Rig) -> None:
    """Nothing lost, nothing unfinished, never a 5xx but 503 (0: no answer, the API was down)."""
    logs = f"api: {rig.log_tail('api')}\nworker: {rig.log_tail('worker')}"
    assert verdict.accepted > 0, logs
    assert (verdict.lost, verdict.unfinished) == (0, 0), f"{verdict}\n{logs}"
    assert set(verdict.statuses) <= {0, 202, 503}, verdict
    assert verdict.duplicates <= PREFETCH, verdict


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_a_broker_restart_answers_503_with_retry_after_and_accepts_again_within_a_second(
    private_rabbitmq: PrivateNode, fault_rig: Rig, queue_type: str
) -> None:
    verdict = rabbit.broker_restart(fault_rig, private_rabbitmq, FAST, queue_type)

    assert_every_accepted_job_ran_once_or_more(verdict, fault_rig)
    assert set(verdict.statuses) == {202, 503}, verdict
    assert verdict.notes["503 during the outage"] > 0, verdict
    assert verdict.notes["503 without Retry-After"] == 0, verdict
    assert verdict.notes["slowest answer during the outage (s)"] < 2.0, verdict
    assert verdict.recovery_s is not None, verdict
    assert verdict.recovery_s < 1.0, verdict


def test_a_memory_alarm_refuses_submissions_fast_while_acks_flow_and_then_accepts_again(
    private_rabbitmq: PrivateNode, fault_rig: Rig
) -> None:
    verdict = rabbit.memory_alarm(fault_rig, private_rabbitmq, FAST)

    assert_every_accepted_job_ran_once_or_more(verdict, fault_rig)
    assert verdict.notes["503 during the alarm"] > 0, verdict
    assert verdict.notes["503 without Retry-After"] == 0, verdict
    assert verdict.notes["slowest answer during the alarm (s)"] < 2.0, verdict
    assert verdict.notes["runs_during_alarm"] > 0, verdict
    assert verdict.recovery_s is not None, verdict
    assert verdict.recovery_s < 5.0, verdict


def test_connections_closed_by_force_are_reopened_and_no_accepted_job_is_lost(
    private_rabbitmq: PrivateNode, fault_rig: Rig
) -> None:
    verdict = rabbit.connections_closed(fault_rig, private_rabbitmq, FAST)

    assert_every_accepted_job_ran_once_or_more(verdict, fault_rig)
    assert verdict.recovery_s is not None, verdict
    assert verdict.recovery_s < 2.0, verdict


def test_a_job_past_the_consumer_timeout_is_delivered_again_and_runs_to_its_end(
    private_rabbitmq: PrivateNode, fault_rig: Rig
) -> None:
    verdict = rabbit.consumer_timeout(fault_rig, private_rabbitmq, FAST)

    assert_every_accepted_job_ran_once_or_more(verdict, fault_rig)
    assert verdict.notes["channel_closed"], fault_rig.log_tail("worker", 20)
    assert verdict.notes["slow_job_runs"] == 2, verdict
