"""Fixtures of the fault tests: a private RabbitMQ node, a rig that stops what it started."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.chaos.pace import Pace
from benchmarks.rig import Options, Rig, rig
from tests.brokers.rabbit import private_rabbitmq

__all__ = ["private_rabbitmq"]

# Every fault a few seconds long: the directory runs in well under two minutes.
FAST = Pace(clients=3, every_s=0.03, before=15, fault_s=2.0, after=15, settle_s=60.0)


@pytest.fixture
def fault_rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    """A scratch folder in the temp dir and the processes a fault test starts, all stopped after
    (their logs kept, and named on stderr, when the test failed)."""
    with rig(Options(log_level="INFO"), request.node.name) as current:
        yield current
