"""A worker naming several API replicas in its gRPC target turns to another when its own stops,
keeping its registration's session, since the replicas share one Redis registry."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from jobqueue.control.client import ControlClient
from jobqueue.control.server import ControlServer
from jobqueue.control.sessions import from_url as sessions_from_url
from jobqueue.registry import Command
from jobqueue.registry.redis import RedisRegistry
from tests.control.polling import eventually
from tests.control.test_client import FakeWorker
from tests.registry.conftest import redis_prefix
from tests.services import REDIS_URL

__all__ = ["redis_prefix"]  # the per-test key prefix, its keys deleted after

pytestmark = pytest.mark.redis

INTERVAL_S = 0.1


@contextlib.asynccontextmanager
async def replica(url: str) -> AsyncIterator[ControlServer]:
    """One API replica's control plane: its own registry and sessions over the shared Redis."""
    registry = RedisRegistry.from_url(url)
    sessions = sessions_from_url(url)
    try:
        async with ControlServer(registry, "127.0.0.1:0", sessions=sessions) as server:
            yield server
    finally:
        await registry.close()
        await sessions.close()


async def test_a_worker_naming_two_replicas_heartbeats_to_the_second_once_the_first_stops(
    redis_prefix: str,
) -> None:
    url = REDIS_URL + ("&" if "?" in REDIS_URL else "?") + f"key_prefix={redis_prefix}"
    worker = FakeWorker("roaming")
    async with replica(url) as second, contextlib.AsyncExitStack() as first_running:
        first = await first_running.enter_async_context(replica(url))
        target = f"ipv4:127.0.0.1:{first.port},127.0.0.1:{second.port}"
        client = ControlClient(target, worker.stats, worker.on_command, interval_s=INTERVAL_S)
        await client.start()
        try:
            await eventually(lambda: _registered(client), what="registered with the first")
            await first_running.aclose()  # the first replica goes away
            seen = await second.registry.get("roaming")
            assert seen is not None

            async def heard_by_second() -> bool:
                now = await second.registry.get("roaming")
                return now is not None and now.last_seen_unix > seen.last_seen_unix + INTERVAL_S

            # Recorded there: its heartbeats, session secret and all, are admitted by the second.
            await eventually(heard_by_second, 10.0, "heartbeats reaching the second replica")
            assert await second.registry.send_command("roaming", Command.PAUSE)

            async def paused() -> bool:
                return worker.commands == ["pause"]

            await eventually(paused, 5.0, "a command through the second replica")
        finally:
            await client.stop()
    assert client.registered is False


async def _registered(client: ControlClient) -> bool:
    return client.registered
