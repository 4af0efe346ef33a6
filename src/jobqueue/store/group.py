"""Group commit: concurrent calls that write the same kind of rows share one transaction.

Each call adds its items and waits (a caller that gives up waiting does not take its items
back: they are written anyway). Whenever no group is being written, the items waiting are
written together by one background task, and each caller learns the outcome of the
transaction that carried its items. A burst of N concurrent submissions thus costs a few
commits (and fsyncs), not N.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
MAX_GROUP_ITEMS = 1000
_Entry = tuple[Sequence[Item], "asyncio.Future[None]"]


class GroupCommit(Generic[Item]):
    """Write items from concurrent callers in shared transactions via ``write(items)``."""

    def __init__(
        self, write: Callable[[list[Item]], Awaitable[None]], max_items: int = MAX_GROUP_ITEMS
    ) -> None:
        self._write = write
        self._max_items = max_items
        self._waiting: list[_Entry[Item]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, items: Sequence[Item]) -> None:
        """Write ``items`` (with whatever else is waiting); returns once they are committed."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((items, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        await done

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                await self._write_group(self._take_group())
        finally:
            self._writer = None

    def _take_group(self) -> list[_Entry[Item]]:
        group: list[_Entry[Item]] = []
        count = 0
        while self._waiting and (not group or count + len(self._waiting[0][0]) <= self._max_items):
            entry = self._waiting.pop(0)
            group.append(entry)
            count += len(entry[0])
        return group

    async def _write_group(self, group: list[_Entry[Item]]) -> None:
        try:
            await self._write([item for items, _ in group for item in items])
        except Exception as exc:
            for _, done in group:
                if not done.done():
                    done.set_exception(exc)
        except BaseException:
            for _, done in group:
                done.cancel()
            raise
        else:
            for _, done in group:
                if not done.done():
                    done.set_result(None)
