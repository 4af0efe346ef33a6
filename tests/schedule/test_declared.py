"""Schedules declared in code: upserted when the API starts (their pause kept), removed once
no longer declared, not changeable over HTTP; a bad declaration fails as the app is imported."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from jobqueue import Handlers
from jobqueue.errors import ConfigError, ScheduleConflict
from jobqueue.schedule.book import ScheduleBook
from jobqueue.schedule.firing import schedule_sidecars
from jobqueue.schedule.values import Missed, Overlap, Source
from tests.schedule.app import handlers


async def test_the_declared_schedules_are_added_updated_and_removed(book: ScheduleBook) -> None:
    declared = handlers.schedules()
    first = await book.declare(declared)
    assert (first.added, first.updated, first.removed) == (["cleanup", "report"], [], [])
    again = await book.declare(declared)
    assert (again.added, again.updated, again.removed) == ([], [], [])  # a restart changes nothing

    await book.pause("report")
    [cleanup, report] = declared
    moved = dataclasses.replace(report, cron="0 7 * * 1-5")
    changed = await book.declare([moved])
    assert (changed.updated, changed.removed) == (["report"], ["cleanup"])
    kept = await book.get("report")
    assert (kept.spec.cron, kept.paused, kept.source) == ("0 7 * * 1-5", True, Source.CODE)
    assert [s.name for s in await book.all()] == ["report"]
    assert cleanup.missed is Missed.RUN_ONCE
    assert cleanup.overlap is Overlap.SKIP


async def test_a_declared_schedule_is_not_changed_or_removed_over_http(book: ScheduleBook) -> None:
    await book.declare(handlers.schedules())
    with pytest.raises(ScheduleConflict, match="declared in code"):
        await book.change("report", {"cron": "@hourly"})
    with pytest.raises(ScheduleConflict, match="declared in code"):
        await book.remove("report")
    assert (await book.run_now("report")).job_id is not None  # but it can be run


async def test_the_api_sidecar_declares_the_apps_schedules(book: ScheduleBook) -> None:
    [sidecar] = schedule_sidecars(book, "tests.schedule.app:handlers")
    async with sidecar:
        for _ in range(200):
            if len(await book.all()) == 2:
                break
            await asyncio.sleep(0.02)
    assert [s.name for s in await book.all()] == ["cleanup", "report"]


def test_a_bad_declaration_is_a_config_error_naming_it() -> None:
    local = Handlers()
    with pytest.raises(
        ConfigError, match="schedule 'x': invalid cron expression '0 25 \\* \\* \\*'"
    ):
        local.schedule("x", cron="0 25 * * *", job_type="t")
    with pytest.raises(ConfigError, match="unknown time zone 'Berlin'"):
        local.schedule("y", cron="@daily", job_type="t", tz="Berlin")
    local.schedule("z", cron="@daily", job_type="t")
    with pytest.raises(ConfigError, match="declared twice"):
        local.schedule("z", cron="@hourly", job_type="t")
