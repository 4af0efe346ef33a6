"""The firing loop on a real SQLite store, time stepped by hand: ticks on time fire once each,
missed ticks follow the schedule's policy, overlaps are skipped when asked, pauses hold."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from jobqueue.job import JobState
from jobqueue.metrics.instruments import CronInstruments
from jobqueue.schedule.book import ScheduleBook
from jobqueue.schedule.firing import FiringLoop
from jobqueue.schedule.values import Missed, Outcome, Overlap, ScheduleSpec
from tests.schedule.conftest import START, SteppedClock

EVERY_MINUTE = ScheduleSpec(name="minutely", cron="* * * * *", job_type="report", payload={"n": 1})


async def test_a_tick_on_time_makes_one_scheduled_job_due_at_the_tick(
    book: ScheduleBook, clock: SteppedClock
) -> None:
    await book.create(EVERY_MINUTE)
    loop = FiringLoop(book)
    assert await loop.fire_due() == []
    clock.step(60.5)
    fired = await loop.fire_due()
    assert [(f.tick_at, f.outcome) for f in fired] == [
        (START + timedelta(minutes=1), Outcome.FIRED)
    ]
    assert await loop.fire_due() == []  # the same tick is not fired twice
    record = await book.store.get(fired[0].job_id or "")
    assert record is not None
    assert (record.type, record.payload, record.state) == ("report", {"n": 1}, JobState.SCHEDULED)
    assert record.to_wire()["run_at"] == "2026-06-01T12:01:00.000000Z"
    ticks = await book.ticks("minutely")
    assert [(t.job_id, t.outcome, t.job_state) for t in ticks] == [
        (record.id, Outcome.FIRED, "scheduled")
    ]
    assert (await book.get("minutely")).next_run_at == START + timedelta(minutes=2)


async def test_ticks_a_little_late_all_fire_one_by_one_and_are_measured(
    book: ScheduleBook, clock: SteppedClock
) -> None:
    await book.create(ScheduleSpec(name="s", cron="* * * * * */5", job_type="t"))
    registry = CollectorRegistry()
    clock.step(20.5)  # four ticks due, all within the grace of 30 s
    fired = await FiringLoop(book, observer=CronInstruments(registry)).fire_due()
    assert [f.tick_at - START for f in fired] == [timedelta(seconds=s) for s in (5, 10, 15, 20)]
    fired_total = registry.get_sample_value("jobqueue_schedule_ticks_total", {"outcome": "fired"})
    lateness_sum = registry.get_sample_value("jobqueue_schedule_lateness_seconds_sum")
    assert fired_total == 4
    assert lateness_sum == 15.5 + 10.5 + 5.5 + 0.5  # from each tick to the (stepped) now


async def test_missed_ticks_are_skipped_by_default(book: ScheduleBook, clock: SteppedClock) -> None:
    await book.create(EVERY_MINUTE)
    clock.step(3600 + 45)  # an hour down: 60 ticks missed, 12:01 to 13:00
    fired = await FiringLoop(book).fire_due()
    assert [(f.outcome, f.job_id, f.missed) for f in fired] == [(Outcome.SKIPPED, None, 60)]
    assert await book.ticks("minutely") == []
    assert (await book.get("minutely")).next_run_at == START + timedelta(hours=1, minutes=1)


async def test_missed_ticks_run_once_make_one_job_for_all_of_them(
    book: ScheduleBook, clock: SteppedClock
) -> None:
    await book.create(
        ScheduleSpec(name="catch", cron="*/10 * * * *", job_type="t", missed=Missed.RUN_ONCE)
    )
    clock.step(3600 + 45)  # six ticks missed, 12:10 to 13:00
    fired = await FiringLoop(book).fire_due()
    assert [(f.outcome, f.missed) for f in fired] == [(Outcome.CAUGHT_UP, 6)]
    assert fired[0].tick_at == START + timedelta(hours=1)  # the latest missed tick
    assert await FiringLoop(book).fire_due() == []
    ticks = await book.ticks("catch")
    assert [(t.outcome, t.missed) for t in ticks] == [(Outcome.CAUGHT_UP, 6)]


async def test_overlap_skip_skips_ticks_while_the_last_run_is_unfinished(
    book: ScheduleBook, clock: SteppedClock
) -> None:
    await book.create(
        ScheduleSpec(name="long", cron="* * * * *", job_type="t", overlap=Overlap.SKIP)
    )
    await book.create(ScheduleSpec(name="many", cron="* * * * *", job_type="t"))
    loop = FiringLoop(book)
    clock.step(60)
    first = {f.schedule: f for f in await loop.fire_due()}
    clock.step(60)
    second = {f.schedule: f for f in await loop.fire_due()}
    assert first["long"].outcome is Outcome.FIRED
    assert second["long"].outcome is Outcome.SKIPPED
    assert second["long"].job_id is None
    assert second["many"].outcome is Outcome.FIRED  # overlap: allow
    await book.store.request_cancel(first["long"].job_id or "")  # the run ends
    clock.step(60)
    third = {f.schedule: f for f in await loop.fire_due()}
    assert third["long"].outcome is Outcome.FIRED


async def test_a_paused_schedule_fires_nothing_and_resumes_without_catching_up(
    book: ScheduleBook, clock: SteppedClock
) -> None:
    await book.create(EVERY_MINUTE)
    loop = FiringLoop(book)
    paused = await book.pause("minutely")
    assert paused.paused
    assert paused.to_wire()["next_run_at"] is None
    clock.step(600)
    assert await loop.fire_due() == []
    resumed = await book.resume("minutely")
    assert resumed.next_run_at == START + timedelta(minutes=11)
    clock.step(61)
    assert [f.tick_at for f in await loop.fire_due()] == [START + timedelta(minutes=11)]


async def test_run_now_makes_a_job_beside_the_ticks(book: ScheduleBook) -> None:
    await book.create(EVERY_MINUTE)
    tick = await book.run_now("minutely")
    assert tick.outcome is Outcome.RUN_NOW
    assert tick.job_id is not None
    assert (await book.store.get(tick.job_id)) is not None
    assert (await book.get("minutely")).last_tick_at is None  # not a tick of the expression
