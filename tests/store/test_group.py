"""Group commit: concurrent callers share transactions, and each learns its own outcome."""

from __future__ import annotations

import asyncio

import pytest

from jobqueue.store.group import GroupCommit


class Writer:
    """Records each group written; the first write waits until released."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.fail_on = fail_on

    async def write(self, items: list[int]) -> None:
        self.groups.append(items)
        self.started.set()
        await self.release.wait()
        if self.fail_on in items:
            raise RuntimeError(f"cannot write {self.fail_on}")


async def test_callers_arriving_during_a_write_share_the_next_one() -> None:
    writer = Writer()
    group = GroupCommit(writer.write)
    first = asyncio.create_task(group.add([0]))
    await writer.started.wait()
    others = [asyncio.create_task(group.add([n, n + 100])) for n in range(1, 20)]
    await asyncio.sleep(0)
    writer.release.set()
    await asyncio.gather(first, *others)
    assert writer.groups[0] == [0]
    assert sorted(writer.groups[1]) == sorted(x for n in range(1, 20) for x in (n, n + 100))
    assert len(writer.groups) == 2


async def test_a_failed_write_fails_only_the_callers_it_carried() -> None:
    writer = Writer(fail_on=0)
    group = GroupCommit(writer.write)
    first = asyncio.create_task(group.add([0]))
    await writer.started.wait()
    second = asyncio.create_task(group.add([1]))
    await asyncio.sleep(0)
    writer.release.set()
    with pytest.raises(RuntimeError, match="cannot write 0"):
        await first
    await second
    assert writer.groups == [[0], [1]]


async def test_groups_hold_at_most_the_item_limit_unless_one_call_is_bigger() -> None:
    writer = Writer()
    writer.release.set()
    group = GroupCommit(writer.write, max_items=4)
    await asyncio.gather(group.add([1, 2, 3]), group.add([4, 5]), group.add(list(range(6, 12))))
    assert writer.groups == [[1, 2, 3], [4, 5], list(range(6, 12))]


async def test_a_caller_that_stops_waiting_still_has_its_items_written() -> None:
    writer = Writer()
    group = GroupCommit(writer.write)
    first = asyncio.create_task(group.add([0]))
    await writer.started.wait()
    impatient = asyncio.create_task(group.add([1]))
    await asyncio.sleep(0)
    impatient.cancel()
    writer.release.set()
    await first
    with pytest.raises(asyncio.CancelledError):
        await impatient
    await group.add([2])
    assert [1] in writer.groups
