"""The registry's values and ``from_url``."""

from __future__ import annotations

import pytest

from jobqueue.errors import ConfigError, InvalidWorker
from jobqueue.registry import Command, WorkerInfo, WorkerReport, WorkerState, from_url
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.registry.redis import RedisRegistry


@pytest.mark.parametrize(
    "field", ["load", "concurrency", "pid", "processed", "failed", "started_at_unix"]
)
def test_negative_numbers_in_a_report_are_invalid(field: str) -> None:
    with pytest.raises(InvalidWorker, match=field):
        WorkerReport(**{field: -1})


def test_a_report_with_too_many_job_ids_is_invalid() -> None:
    with pytest.raises(InvalidWorker, match="job_ids"):
        WorkerReport(job_ids=tuple(str(n) for n in range(10_001)))


def test_a_report_round_trips_through_its_dict() -> None:
    report = WorkerReport(
        load=3, job_types=("a", "b"), job_ids=("j",), state=WorkerState.DRAINING, host="h"
    )
    assert set(report.to_dict()) == set(WorkerReport.__dataclass_fields__)
    assert WorkerReport.from_dict(report.to_dict()) == report


def test_worker_info_as_a_dict_is_flat_with_every_field() -> None:
    info = WorkerInfo(
        worker_id="w1",
        report=WorkerReport(load=1, job_types=("email",), state=WorkerState.PAUSED),
        last_seen_unix=100.5,
        registered_at_unix=90.0,
        seen_ago_s=2.5,
        pending_command=Command.DRAIN,
    )
    data = info.to_dict()
    assert data["worker_id"] == "w1"
    assert data["load"] == 1
    assert data["job_types"] == ["email"]
    assert data["state"] == "paused"
    assert data["pending_command"] == "drain"
    assert data["seen_ago_s"] == 2.5
    assert set(data) >= set(WorkerReport.__dataclass_fields__)


@pytest.mark.parametrize("url", ["", "memory://", "MEMORY"])
def test_an_empty_or_memory_url_is_the_in_memory_registry(url: str) -> None:
    registry = from_url(url, ttl_s=3)
    assert isinstance(registry, InMemoryRegistry)
    assert registry.ttl_s == 3


async def test_a_redis_url_is_the_redis_registry() -> None:
    registry = from_url("redis://127.0.0.1:6379/15", ttl_s=4)
    assert isinstance(registry, RedisRegistry)
    assert registry.ttl_s == 4
    await registry.close()


def test_an_unknown_registry_url_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        from_url("etcd://user:s3cret@host:2379")
    assert "s3cret" not in str(caught.value)
    assert "etcd://user:***@host:2379" in str(caught.value)
