"""The dead-letter queue as the ``dlq`` commands reach it: through the API, or a broker directly.

Both give the same plain-dict views (``jobqueue.views``), so the commands print the same
whichever way they came. Through the API is the default: it knows its broker and its store,
wherever it was started. Direct access (``--broker-url``) is for when the API is down; it
never creates a SQLite file: a file that is not there holds no dead job.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import typer

from jobqueue import config
from jobqueue.brokers import Broker, from_url
from jobqueue.brokers.sqlite_store.url import database_path
from jobqueue.cli.client import request
from jobqueue.cli.options import missing_sqlite_file
from jobqueue.errors import ConfigError, JobqueueError, NotFound
from jobqueue.job import Job
from jobqueue.store import Store
from jobqueue.triage.groups import DEFAULT_SCAN, dead_groups
from jobqueue.triage.replay import group_ids, replay_at_pace
from jobqueue.views import dead_job_detail, dead_job_view

T = TypeVar("T")
REPLAY_SNAPSHOT = 100_000
"""Replay all: the dead jobs looked at first, to tell the store which jobs are queued again."""
COUNT_LIMIT = 1000
"""The most dead jobs the API lists at once: past it, a count is "at least"."""
DIRECT_HINT = "pass --broker-url URL to open the broker directly"


class DeadLetters(Protocol):
    """What the ``dlq`` commands do to the dead-letter queue."""

    def list(self, limit: int) -> list[dict[str, Any]]:
        """The oldest ``limit`` dead jobs, as ``dead_job_view`` gives them."""

    def show(self, job_id: str) -> dict[str, Any]:
        """One dead job, as ``dead_job_detail`` gives it; NotFound if there is none."""

    def replay(self, job_id: str) -> dict[str, Any]:
        """Queue the dead job again; the job as queued (its wire form); NotFound if none."""

    def replay_all(self) -> int:
        """Queue every dead job again; how many."""

    def purge(self) -> int:
        """Delete every dead job; how many."""

    def count(self) -> str:
        """How many dead jobs there are, for a person to read ("3", "1000 or more")."""

    def groups(self, scan: int) -> builtins.list[dict[str, Any]]:
        """The oldest ``scan`` dead jobs grouped by error fingerprint, as the API lists them."""

    def replay_group(self, fingerprint: str, per_second: float | None) -> int:
        """Replay a group's dead jobs (at most ``per_second`` a second); how many it replays.
        NotFound for an unknown fingerprint."""


class ApiDeadLetters:
    """The dead-letter queue through a running API's ``/dlq`` routes."""

    def __init__(self, api_url: str, tls_ca: str | None = None) -> None:
        self.api_url = api_url
        self.tls_ca = tls_ca

    def _call(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        return request(
            self.api_url,
            method,
            "/dlq" + path,
            params=params or None,
            unreachable_hint=DIRECT_HINT,
            tls_ca=self.tls_ca,
        )

    def list(self, limit: int) -> list[dict[str, Any]]:
        dead_jobs: list[dict[str, Any]] = self._call("GET", "", limit=limit)["dead_jobs"]
        return dead_jobs

    def show(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/{quote(job_id, safe='')}")

    def replay(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/{quote(job_id, safe='')}/replay")

    def replay_all(self) -> int:
        return int(self._call("POST", "/replay")["replayed"])

    def purge(self) -> int:
        return int(self._call("DELETE", "")["purged"])

    def count(self) -> str:
        listed = len(self.list(COUNT_LIMIT))
        return f"{listed} or more" if listed == COUNT_LIMIT else str(listed)

    def groups(self, scan: int) -> builtins.list[dict[str, Any]]:
        groups: builtins.list[dict[str, Any]] = self._call("GET", "/groups", scan=scan)["groups"]
        return groups

    def replay_group(self, fingerprint: str, per_second: float | None) -> int:
        path = f"/groups/{quote(fingerprint, safe='')}/replay"
        pace = {} if per_second is None else {"per_second": per_second}
        return int(self._call("POST", path, **pace)["replaying"])


class BrokerDeadLetters:
    """The dead-letter queue on a broker opened directly; replays told to ``store_url``."""

    def __init__(self, broker_url: str, queue: str, store_url: str | None) -> None:
        require_sqlite_file(broker_url)
        self.broker_url = broker_url
        self.queue = queue
        self.store_url = store_url or _store_beside(broker_url)

    def _run(self, action: Callable[[Broker], Awaitable[T]]) -> T:
        async def run() -> T:
            queue_type = config.env_or("queue_type", config.QUEUE_TYPE)
            priorities = config.priorities(config.env_or("priorities", str(config.PRIORITIES)))
            broker = from_url(
                self.broker_url, self.queue, queue_type=queue_type, priorities=priorities
            )
            await broker.connect()
            try:
                return await action(broker)
            finally:
                await broker.close()

        return asyncio.run(run())

    def list(self, limit: int) -> list[dict[str, Any]]:
        return [dead_job_view(dead) for dead in self._run(lambda broker: broker.dead_jobs(limit))]

    def show(self, job_id: str) -> dict[str, Any]:
        dead = self._run(lambda broker: broker.dead_job(job_id))
        if dead is None:
            raise NotFound(f"no dead job with id {job_id!r}")
        return dead_job_detail(dead)

    def replay(self, job_id: str) -> dict[str, Any]:
        job = self._run(lambda broker: broker.replay(job_id))
        if job is None:
            raise NotFound(f"no dead job with id {job_id!r}")
        _record_requeued(self.store_url, [job])
        return job.to_wire()

    def replay_all(self) -> int:
        count, jobs = self._run(_replay_every)
        _record_requeued(self.store_url, jobs)
        return count

    def purge(self) -> int:
        return self._run(lambda broker: broker.purge_dead())

    def count(self) -> str:
        async def count_dead(broker: Broker) -> int:
            return (await broker.depth()).dead

        return str(self._run(count_dead))

    def groups(self, scan: int) -> builtins.list[dict[str, Any]]:
        found = self._run(lambda broker: dead_groups(broker, scan))
        return [dataclasses.asdict(group) for group in found]

    def replay_group(self, fingerprint: str, per_second: float | None) -> int:
        replayed: builtins.list[Job] = []

        async def collect(jobs: builtins.list[Job]) -> None:
            replayed.extend(jobs)

        async def replay(broker: Broker) -> int | None:
            ids = await group_ids(broker, fingerprint, DEFAULT_SCAN)
            if ids is None:
                return None
            return await replay_at_pace(broker, ids, per_second, collect)

        count = self._run(replay)
        _record_requeued(self.store_url, replayed)
        if count is None:
            raise NotFound(f"no dead job group with fingerprint {fingerprint!r}")
        return count


def dead_letters(
    api_url: str,
    broker_url: str | None,
    queue: str,
    store_url: str | None,
    tls_ca: str | None = None,
) -> DeadLetters:
    """Direct access to ``broker_url`` when one is given, else the API at ``api_url`` (its
    certificate verified against ``tls_ca``, if given)."""
    if broker_url is None:
        return ApiDeadLetters(api_url, tls_ca)
    return BrokerDeadLetters(broker_url, queue, store_url)


def require_sqlite_file(broker_url: str) -> None:
    """ConfigError if ``broker_url`` names a SQLite file that is not there (or is malformed)."""
    if not broker_url.lower().startswith("sqlite:"):
        return
    missing = missing_sqlite_file(database_path(broker_url))
    if missing is not None:
        raise ConfigError(f"no SQLite broker file at {missing} (check --broker-url)")


async def _replay_every(broker: Broker) -> tuple[int, list[Job]]:
    """Replay every dead job; the jobs seen dead just before, to tell the store."""
    dead = await broker.dead_jobs(REPLAY_SNAPSHOT)
    count = await broker.replay_all()
    return count, [job.fresh() for d in dead if (job := d.job) is not None]


def _store_beside(broker_url: str) -> str | None:
    if not broker_url.lower().startswith("sqlite:"):
        return None
    from jobqueue.store import default_store_url

    return default_store_url(broker_url)


def _record_requeued(store_url: str | None, jobs: list[Job]) -> None:
    """Put the replayed jobs back to queued in the job store, if there is one (best effort)."""
    if store_url is None or not jobs:
        return
    from jobqueue.cli.db import store_file_missing, with_store  # the store's driver: only now

    async def record(store: Store) -> None:
        if await store.schema_version() is not None:  # else no API ever kept status there
            await store.record_requeued(jobs)

    try:
        if store_file_missing(store_url) is None:  # no file: no API ever kept status there
            with_store(store_url, record)
    except JobqueueError as exc:
        typer.echo(f"warning: the job store was not told ({exc})", err=True)
