"""The shared broadcaster: one snapshot per topic for all its listeners, only changed sections
sent, the whole snapshot to a late joiner, nothing computed once nobody listens."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jobqueue.ui.broadcast import END, Broadcaster, TopicKey, next_wait

KEY: TopicKey = ("overview", (("window", "15m"),))
STEP_S = 5.0  # the most a test waits for the next message; none should need nearly that


class Source:
    """Sections a test changes at will; counts the snapshots taken and wakes who waits."""

    def __init__(self) -> None:
        self.sections: dict[str, Any] = {"stats": {"n": 1}, "other": {"m": 1}}
        self.computed = 0
        self.tick = asyncio.Event()

    async def compute(self, key: TopicKey) -> dict[str, Any]:
        self.computed += 1
        self.tick.set()
        return {name: {"status": 200, "body": body} for name, body in self.sections.items()}

    async def ticks(self, count: int) -> None:
        """Wait for ``count`` more snapshots."""
        for _ in range(count):
            self.tick.clear()
            await asyncio.wait_for(self.tick.wait(), STEP_S)


def parsed(message: bytes) -> dict[str, Any]:
    """The sections an SSE message carries."""
    head, _, data = message.partition(b"\ndata: ")
    assert head == b"event: change"
    result: dict[str, Any] = json.loads(data)
    return result


async def next_message(queue: asyncio.Queue[bytes]) -> dict[str, Any]:
    return parsed(await asyncio.wait_for(queue.get(), STEP_S))


async def test_listeners_of_one_page_share_its_snapshot_and_get_only_changes() -> None:
    source = Source()
    broadcaster = Broadcaster(source.compute, interval_s=0.01)
    async with broadcaster.listen(KEY) as first, broadcaster.listen(KEY) as second:
        assert len(broadcaster.topics) == 1
        whole = await next_message(first)
        assert whole == await next_message(second)
        assert set(whole) == {"stats", "other"}
        await source.ticks(3)
        assert first.empty()  # nothing changed, nothing sent
        assert second.empty()
        source.sections["stats"] = {"n": 2}
        change = await next_message(first)
        assert change == {"stats": {"status": 200, "body": {"n": 2}}}
        assert await next_message(second) == change
        assert broadcaster.listeners == 2


async def test_a_late_listener_gets_the_whole_snapshot_at_once() -> None:
    source = Source()
    broadcaster = Broadcaster(source.compute, interval_s=0.01)
    async with broadcaster.listen(KEY) as early:
        await next_message(early)
        source.sections["stats"] = {"n": 5}
        assert set(await next_message(early)) == {"stats"}
        async with broadcaster.listen(KEY) as late:
            whole = late.get_nowait()  # there before any refresh
            assert parsed(whole)["stats"]["body"] == {"n": 5}
            assert set(parsed(whole)) == {"stats", "other"}


async def test_pages_with_other_filters_are_other_topics() -> None:
    source = Source()
    broadcaster = Broadcaster(source.compute, interval_s=0.01)
    other: TopicKey = ("jobs", (("state", "dead"),))
    async with broadcaster.listen(KEY), broadcaster.listen(other):
        assert set(broadcaster.topics) == {KEY, other}


async def test_nothing_is_computed_once_the_last_listener_left() -> None:
    source = Source()
    broadcaster = Broadcaster(source.compute, interval_s=0.01)
    async with broadcaster.listen(KEY) as queue:
        await next_message(queue)
        topic = broadcaster.topics[KEY]
        task = topic.task
    assert broadcaster.topics == {}
    assert task is not None
    await asyncio.wait([task], timeout=STEP_S)
    assert task.cancelled()
    assert broadcaster.listeners == 0


async def test_a_failing_snapshot_is_sent_as_an_error_section_and_retried() -> None:
    source = Source()
    calls = 0

    async def flaky(key: TopicKey) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("store unreachable")
        return await source.compute(key)

    broadcaster = Broadcaster(flaky, interval_s=0.01)
    async with broadcaster.listen(KEY) as queue:
        failed = await next_message(queue)
        assert failed["error"]["status"] == 500
        assert "store unreachable" in failed["error"]["body"]["error"]["message"]
        recovered = await next_message(queue)
        assert set(recovered) >= {"stats", "other"}


async def test_closing_ends_every_stream_and_any_opened_later() -> None:
    source = Source()
    broadcaster = Broadcaster(source.compute, interval_s=0.01)
    async with broadcaster.listen(KEY) as queue:
        await next_message(queue)
        broadcaster.close()
        assert await asyncio.wait_for(queue.get(), STEP_S) == END
    async with broadcaster.listen(KEY) as late:
        assert late.get_nowait() == END
    assert broadcaster.topics == {}


def test_a_slow_snapshot_is_taken_less_often() -> None:
    assert next_wait(2.0, 0.1) == 2.0
    assert next_wait(2.0, 2.5) == 10.0  # four times what it took: a fifth of the time at most
