"""The registry conformance suite: the checks every Registry backend must pass.

Each check is a public async function taking a factory ``make(ttl_s, clock, max_workers) ->
Registry`` that builds a fresh, empty registry driven by the controlled ``clock`` (Unix
seconds), holding at most ``max_workers``. A backend's tests run every check in
:data:`REGISTRY_CHECKS`::

    @pytest.mark.parametrize("check", REGISTRY_CHECKS, ids=lambda check: check.__name__)
    async def test_registry_conforms(check: RegistryCheck) -> None:
        await check(lambda ttl_s, clock, max_workers: InMemoryRegistry(
            ttl_s, clock, clock, max_workers=max_workers))
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable

from jobqueue.config import MAX_WORKERS
from jobqueue.errors import InvalidWorker, RegistryFull
from jobqueue.registry import (
    DRAINED_KEEP_S,
    MAX_WORKER_ID_CHARS,
    Command,
    Registry,
    WorkerReport,
    WorkerState,
)

__all__ = ["REGISTRY_CHECKS", "FakeClock", "RegistryCheck", "RegistryFactory"]

TTL_S = 15.0
START_UNIX = 1_750_000_000.0
REPORT = WorkerReport(
    load=2,
    concurrency=8,
    job_types=("email", "resize"),
    queue="jobs",
    host="node-1",
    pid=4242,
    version="1.2.3",
    started_at_unix=START_UNIX - 60,
    processed=10,
    failed=1,
    job_ids=("job-a", "job-b"),
    state=WorkerState.ACTIVE,
)


class FakeClock:
    """A clock that moves only when told to; usable as a monotonic and a wall clock."""

    def __init__(self, start: float = START_UNIX) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


RegistryFactory = Callable[[float, Callable[[], float], int], Registry]
RegistryCheck = Callable[[RegistryFactory], Awaitable[None]]


@contextlib.asynccontextmanager
async def _registry(
    make: RegistryFactory, max_workers: int = MAX_WORKERS
) -> AsyncIterator[tuple[Registry, FakeClock]]:
    clock = FakeClock()
    registry = make(TTL_S, clock, max_workers)
    try:
        yield registry, clock
    finally:
        await registry.close()


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, abs_tol=1e-3)


async def check_register_lists_the_worker_with_its_report(make: RegistryFactory) -> None:
    """A registered worker is listed and fetched with its report and the time it was seen."""
    async with _registry(make) as (registry, clock):
        assert await registry.register("w1", REPORT) is True
        [info] = await registry.workers()
        assert info == await registry.get("w1")
        assert (info.worker_id, info.report, info.state) == ("w1", REPORT, WorkerState.ACTIVE)
        assert _close(info.last_seen_unix, clock.now)
        assert _close(info.registered_at_unix, clock.now)
        assert _close(info.seen_ago_s, 0.0)
        assert info.pending_command is None


async def check_register_of_a_known_worker_refreshes_it(make: RegistryFactory) -> None:
    """Registering again answers False, updates the report, keeps the registration time."""
    async with _registry(make) as (registry, clock):
        await registry.register("w1", REPORT)
        registered_at = clock.now
        clock.advance(5)
        assert await registry.register("w1", WorkerReport(load=0)) is False
        info = await registry.get("w1")
        assert info is not None
        assert info.report == WorkerReport(load=0)
        assert _close(info.registered_at_unix, registered_at)
        assert _close(info.last_seen_unix, clock.now)


async def check_heartbeat_from_an_unknown_id_registers_it(make: RegistryFactory) -> None:
    """A heartbeat from a stranger is a registration: it is listed, and reported as unknown."""
    async with _registry(make) as (registry, _clock):
        result = await registry.heartbeat("stranger", REPORT)
        assert (result.known, result.command) == (False, None)
        info = await registry.get("stranger")
        assert info is not None
        assert info.report == REPORT
        assert (await registry.heartbeat("stranger", REPORT)).known is True


async def check_heartbeat_updates_the_report_and_the_time_seen(make: RegistryFactory) -> None:
    """A heartbeat replaces the report and moves ``last_seen`` to now."""
    async with _registry(make) as (registry, clock):
        await registry.register("w1", REPORT)
        clock.advance(5)
        paused = WorkerReport(load=1, concurrency=8, state=WorkerState.PAUSED)
        assert (await registry.heartbeat("w1", paused)).known is True
        info = await registry.get("w1")
        assert info is not None
        assert (info.report, info.state) == (paused, WorkerState.PAUSED)
        assert _close(info.last_seen_unix, clock.now)
        assert _close(info.registered_at_unix, clock.now - 5)


async def check_seen_ago_grows_with_silence(make: RegistryFactory) -> None:
    """``seen_ago_s`` is the time since the last registration or heartbeat."""
    async with _registry(make) as (registry, clock):
        await registry.register("w1", REPORT)
        clock.advance(7.5)
        info = await registry.get("w1")
        assert info is not None
        assert _close(info.seen_ago_s, 7.5)


async def check_silent_worker_expires_from_every_view(make: RegistryFactory) -> None:
    """A worker silent for the TTL is gone from ``get`` and ``workers`` even before a sweep."""
    async with _registry(make) as (registry, clock):
        await registry.register("silent", REPORT)
        await registry.register("chatty", REPORT)
        clock.advance(TTL_S - 1)
        await registry.heartbeat("chatty", REPORT)
        assert [w.worker_id for w in await registry.workers()] == ["chatty", "silent"]
        clock.advance(1.5)
        assert await registry.get("silent") is None
        assert [w.worker_id for w in await registry.workers()] == ["chatty"]
        assert await registry.get("chatty") is not None


async def check_sweep_removes_only_expired_workers(make: RegistryFactory) -> None:
    """``sweep`` counts and removes the expired workers and leaves the live ones."""
    async with _registry(make) as (registry, clock):
        await registry.register("old-1", REPORT)
        await registry.register("old-2", REPORT)
        clock.advance(TTL_S)
        await registry.register("new", REPORT)
        assert await registry.sweep() == 2
        assert await registry.sweep() == 0
        assert [w.worker_id for w in await registry.workers()] == ["new"]


async def check_expired_worker_comes_back_as_new(make: RegistryFactory) -> None:
    """A heartbeat after expiry registers again: unknown, new registration time, no old command."""
    async with _registry(make) as (registry, clock):
        await registry.register("w1", REPORT)
        assert await registry.send_command("w1", Command.PAUSE) is True
        clock.advance(TTL_S + 1)
        result = await registry.heartbeat("w1", REPORT)
        assert (result.known, result.command) == (False, None)
        info = await registry.get("w1")
        assert info is not None
        assert _close(info.registered_at_unix, clock.now)
        assert info.pending_command is None


async def check_command_is_delivered_once_by_the_next_heartbeat(make: RegistryFactory) -> None:
    """A command waits (shown as pending); the next heartbeat takes it, the one after gets none."""
    async with _registry(make) as (registry, _clock):
        await registry.register("w1", REPORT)
        assert await registry.send_command("w1", Command.DRAIN) is True
        info = await registry.get("w1")
        assert info is not None
        assert info.pending_command is Command.DRAIN
        assert (await registry.heartbeat("w1", REPORT)).command is Command.DRAIN
        assert (await registry.heartbeat("w1", REPORT)).command is None
        info = await registry.get("w1")
        assert info is not None
        assert info.pending_command is None


async def check_last_command_sent_wins(make: RegistryFactory) -> None:
    """Two commands before a heartbeat: the heartbeat gets the last one only."""
    async with _registry(make) as (registry, _clock):
        await registry.register("w1", REPORT)
        await registry.send_command("w1", Command.PAUSE)
        await registry.send_command("w1", Command.RESUME)
        assert (await registry.heartbeat("w1", REPORT)).command is Command.RESUME
        assert (await registry.heartbeat("w1", REPORT)).command is None


async def check_register_leaves_a_waiting_command_alone(make: RegistryFactory) -> None:
    """A registration of a live worker does not consume its command; the heartbeat gets it."""
    async with _registry(make) as (registry, _clock):
        await registry.register("w1", REPORT)
        await registry.send_command("w1", Command.PAUSE)
        await registry.register("w1", REPORT)
        assert (await registry.heartbeat("w1", REPORT)).command is Command.PAUSE


async def check_commands_only_reach_live_workers(make: RegistryFactory) -> None:
    """A command for an unknown or expired worker is refused (False) and not stored."""
    async with _registry(make) as (registry, clock):
        assert await registry.send_command("nobody", Command.PAUSE) is False
        await registry.register("w1", REPORT)
        clock.advance(TTL_S + 1)
        assert await registry.send_command("w1", Command.PAUSE) is False
        assert (await registry.heartbeat("w1", REPORT)).command is None


async def check_commands_are_per_worker(make: RegistryFactory) -> None:
    """A command goes to the worker it names and no other."""
    async with _registry(make) as (registry, _clock):
        await registry.register("w1", REPORT)
        await registry.register("w2", REPORT)
        await registry.send_command("w2", Command.PAUSE)
        assert (await registry.heartbeat("w1", REPORT)).command is None
        assert (await registry.heartbeat("w2", REPORT)).command is Command.PAUSE


async def check_deregister_forgets_the_worker_and_its_command(make: RegistryFactory) -> None:
    """Deregistering removes a live worker (True), then is a no-op (False)."""
    async with _registry(make) as (registry, _clock):
        await registry.register("w1", REPORT)
        await registry.send_command("w1", Command.PAUSE)
        assert await registry.deregister("w1") is True
        assert await registry.deregister("w1") is False
        assert await registry.get("w1") is None
        assert await registry.workers() == []
        assert (await registry.heartbeat("w1", REPORT)).command is None


async def check_a_drained_worker_stays_listed_as_drained_taking_no_command(
    make: RegistryFactory,
) -> None:
    """Deregistering as drained keeps the worker listed, idle and ``drained``, past its TTL
    and sweeps, until ``DRAINED_KEEP_S``; it takes no command; registering again revives it."""
    async with _registry(make) as (registry, clock):
        await registry.register("w1", REPORT)
        await registry.send_command("w1", Command.PAUSE)
        assert await registry.deregister("w1", drained=True) is True
        clock.advance(TTL_S * 4)
        await registry.sweep()
        [info] = await registry.workers()
        assert (info.worker_id, info.state, info.report.load) == ("w1", WorkerState.DRAINED, 0)
        assert info.report.job_types == REPORT.job_types
        assert info.pending_command is None
        assert await registry.send_command("w1", Command.RESUME) is False
        await registry.register("w1", REPORT)
        revived = await registry.get("w1")
        assert revived is not None
        assert revived.state is WorkerState.ACTIVE
        await registry.deregister("w1", drained=True)
        clock.advance(DRAINED_KEEP_S + 1)
        assert await registry.workers() == []
        assert await registry.get("w1") is None


async def check_workers_are_ordered_by_id(make: RegistryFactory) -> None:
    """``workers`` lists by id, whatever the order of registration."""
    async with _registry(make) as (registry, _clock):
        for worker_id in ("c", "a", "b"):
            await registry.register(worker_id, REPORT)
        assert [w.worker_id for w in await registry.workers()] == ["a", "b", "c"]


BAD_WORKER_IDS = (
    "",
    "x" * (MAX_WORKER_ID_CHARS + 1),
    "a\nforged log line",
    "a b\x1b[31mred",
    "tab\there",
    "node/2",
    "..",
)


async def check_bad_worker_ids_are_refused(make: RegistryFactory) -> None:
    """An empty, over-long or unprintable id, or one with a ``/``, raises InvalidWorker and
    stores nothing; the longest one passes."""
    async with _registry(make) as (registry, _clock):
        for bad in BAD_WORKER_IDS:
            for call in (registry.register, registry.heartbeat):
                try:
                    await call(bad, REPORT)
                except InvalidWorker:
                    pass
                else:
                    raise AssertionError(f"{call.__name__}({bad!r}) was accepted")
        assert await registry.workers() == []
        longest = "x" * MAX_WORKER_ID_CHARS
        assert await registry.register(longest, REPORT) is True
        assert [w.worker_id for w in await registry.workers()] == [longest]


async def check_unusual_ids_round_trip(make: RegistryFactory) -> None:
    """Ids with spaces, colons and non-ASCII letters are stored and listed as given."""
    async with _registry(make) as (registry, _clock):
        ids = sorted(["node 1:worker.2", "wörker-ü", "a:b:command:c"])
        for worker_id in ids:
            await registry.register(worker_id, REPORT)
        assert [w.worker_id for w in await registry.workers()] == ids
        assert await registry.send_command(ids[0], Command.PAUSE) is True
        assert (await registry.heartbeat(ids[0], REPORT)).command is Command.PAUSE


async def _refused(call: Awaitable[object]) -> bool:
    try:
        await call
    except RegistryFull:
        return True
    return False


async def check_a_new_id_past_the_limit_is_refused(make: RegistryFactory) -> None:
    """With ``max_workers`` live workers, a new id's register and heartbeat raise RegistryFull
    and store nothing; the known workers register and heartbeat as ever."""
    async with _registry(make, max_workers=3) as (registry, _clock):
        for worker_id in ("a", "b", "c"):
            await registry.register(worker_id, REPORT)
        assert await _refused(registry.register("d", REPORT))
        assert await _refused(registry.heartbeat("d", REPORT))
        assert await registry.register("a", REPORT) is False
        assert (await registry.heartbeat("b", REPORT)).known is True
        assert [w.worker_id for w in await registry.workers()] == ["a", "b", "c"]


async def check_expired_and_deregistered_workers_make_room(make: RegistryFactory) -> None:
    """A worker that expired (swept or not) or deregistered no longer counts towards the limit."""
    async with _registry(make, max_workers=2) as (registry, clock):
        await registry.register("old", REPORT)
        await registry.register("leaving", REPORT)
        await registry.deregister("leaving")
        assert await registry.register("new", REPORT) is True
        clock.advance(TTL_S + 1)
        await registry.register("newer", REPORT)
        assert await registry.register("newest", REPORT) is True
        assert await _refused(registry.register("one-too-many", REPORT))


async def check_workers_come_in_pages_by_id(make: RegistryFactory) -> None:
    """``workers(after, limit)`` is the next ``limit`` live workers by id after ``after`` (an id
    or any string); expired ones are left out."""
    async with _registry(make) as (registry, clock):
        await registry.register("gone", REPORT)
        clock.advance(TTL_S)
        for worker_id in ("c", "a", "e", "b", "d"):
            await registry.register(worker_id, REPORT)

        async def page(after: str, limit: int | None) -> list[str]:
            return [w.worker_id for w in await registry.workers(after, limit)]

        assert await page("", 2) == ["a", "b"]
        assert await page("b", 2) == ["c", "d"]
        assert await page("d", 2) == ["e"]
        assert await page("e", 2) == []
        assert await page("bb", None) == ["c", "d", "e"]
        assert await page("", None) == ["a", "b", "c", "d", "e"]


REGISTRY_CHECKS: tuple[RegistryCheck, ...] = (
    check_register_lists_the_worker_with_its_report,
    check_register_of_a_known_worker_refreshes_it,
    check_heartbeat_from_an_unknown_id_registers_it,
    check_heartbeat_updates_the_report_and_the_time_seen,
    check_seen_ago_grows_with_silence,
    check_silent_worker_expires_from_every_view,
    check_sweep_removes_only_expired_workers,
    check_expired_worker_comes_back_as_new,
    check_command_is_delivered_once_by_the_next_heartbeat,
    check_last_command_sent_wins,
    check_register_leaves_a_waiting_command_alone,
    check_commands_only_reach_live_workers,
    check_commands_are_per_worker,
    check_deregister_forgets_the_worker_and_its_command,
    check_a_drained_worker_stays_listed_as_drained_taking_no_command,
    check_workers_are_ordered_by_id,
    check_bad_worker_ids_are_refused,
    check_unusual_ids_round_trip,
    check_a_new_id_past_the_limit_is_refused,
    check_expired_and_deregistered_workers_make_room,
    check_workers_come_in_pages_by_id,
)
