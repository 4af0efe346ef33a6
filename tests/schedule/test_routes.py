"""The /schedules routes behind the token gate: admin changes (audited), read looks, bad
expressions and zones are 422s that name them, and a tick's job names its schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.auth.audit import AuditTrail
from jobqueue.auth.book import TokenBook, refresh_once
from jobqueue.auth.http import HttpAuth
from jobqueue.brokers import Broker
from jobqueue.schedule.book import ScheduleBook
from jobqueue.schedule.firing import FiringLoop
from jobqueue.store import Store
from jobqueue.store.sql import SqlStore
from tests.api.conftest import asgi_client
from tests.auth.test_gate import add_token
from tests.schedule.conftest import SteppedClock
from tests.store.conftest import open_store

REPORT = {
    "name": "weekday-report",
    "cron": "0 6 * * 1-5",
    "tz": "Europe/Berlin",
    "job_type": "report",
    "payload": {"to": "team"},
}


class Gated:
    def __init__(self, client: httpx.AsyncClient, app: FastAPI, book: ScheduleBook) -> None:
        self.client, self.app, self.book = client, app, book
        self.headers: dict[str, dict[str, str]] = {}

    @property
    def store(self) -> Store:
        return self.book.store

    async def admin(self, method: str, path: str, body: object = None) -> httpx.Response:
        return await self.client.request(method, path, json=body, headers=self.headers["admin"])


@pytest.fixture
async def gated(broker: Broker, tmp_path: Path, clock: SteppedClock) -> AsyncIterator[Gated]:
    async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        assert isinstance(store, SqlStore)
        book = ScheduleBook(store, clock=clock)
        tokens = TokenBook()
        auth = HttpAuth(tokens, AuditTrail(store))
        app = create_app(broker, tracking=Tracking(store), auth=auth, schedules=book)
        async with asgi_client(app) as client:
            gated = Gated(client, app, book)
            for scope in ("read", "admin"):
                token = await add_token(store, scope, scope)
                gated.headers[scope] = {"Authorization": f"Bearer {token}"}
            await refresh_once(tokens, store)
            yield gated


async def test_a_schedule_is_added_shown_changed_and_removed(gated: Gated) -> None:
    created = await gated.admin("POST", "/schedules", REPORT)
    assert created.status_code == 201
    view = created.json()
    # 2026-06-01 12:00 UTC is a Monday: the next 06:00 in Berlin (CEST) is Tuesday 04:00 UTC
    assert view["next_run_at"] == "2026-06-02T04:00:00.000000Z"
    assert view["next_runs"][:3] == [
        "2026-06-02T04:00:00.000000Z",
        "2026-06-03T04:00:00.000000Z",
        "2026-06-04T04:00:00.000000Z",
    ]
    assert (view["source"], view["missed"], view["overlap"]) == ("api", "skip", "allow")

    read = gated.headers["read"]
    listed = await gated.client.get("/schedules", headers=read)
    one = await gated.client.get("/schedules/weekday-report?runs=1", headers=read)
    assert [s["name"] for s in listed.json()["schedules"]] == ["weekday-report"]
    assert one.json()["next_runs"] == ["2026-06-02T04:00:00.000000Z"]
    assert one.json()["last_runs"] == []

    changed = await gated.admin("PATCH", "/schedules/weekday-report", {"cron": "@hourly"})
    assert changed.status_code == 200
    assert changed.json()["next_run_at"] == "2026-06-01T13:00:00.000000Z"
    assert changed.json()["payload"] == {"to": "team"}  # kept

    emptied = await gated.admin("PATCH", "/schedules/weekday-report", {"cron": None})
    assert emptied.status_code == 422
    assert emptied.json()["error"]["message"] == "cron cannot be null"

    taken = await gated.admin("POST", "/schedules", REPORT)
    assert taken.status_code == 409
    removed = await gated.admin("DELETE", "/schedules/weekday-report")
    assert removed.json() == {"removed": "weekday-report"}
    missing = await gated.client.get("/schedules/weekday-report", headers=read)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("cron", "61 * * * *", "'61 * * * *'"),
        ("cron", "* * *", "3 fields"),
        ("cron", "@sometimes", "'@sometimes'"),
        ("tz", "Mars/Olympus", "'Mars/Olympus'"),
        ("name", "no spaces", "'no spaces'"),
    ],
)
async def test_a_bad_expression_zone_or_name_is_a_422_naming_it(
    gated: Gated, field: str, value: str, named: str
) -> None:
    answer = await gated.admin("POST", "/schedules", {**REPORT, field: value})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_schedule"
    assert named in answer.json()["error"]["message"]


async def test_pause_resume_and_run_now_are_admin_actions_and_audited(gated: Gated) -> None:
    await gated.admin("POST", "/schedules", REPORT)
    read = gated.headers["read"]
    for verb in ("pause", "resume", "run-now"):
        refused = await gated.client.post(f"/schedules/weekday-report/{verb}", headers=read)
        assert refused.status_code == 403
    paused = await gated.admin("POST", "/schedules/weekday-report/pause")
    assert paused.json()["paused"] is True
    assert paused.json()["next_runs"] == []
    resumed = await gated.admin("POST", "/schedules/weekday-report/resume")
    assert resumed.json()["paused"] is False
    ran = await gated.admin("POST", "/schedules/weekday-report/run-now")
    assert ran.status_code == 202
    job = await gated.client.get(f"/jobs/{ran.json()['job_id']}", headers=read)
    assert job.json()["type"] == "report"
    assert job.json()["schedule"] == "weekday-report"

    entries = (await gated.client.get("/audit", headers=gated.headers["admin"])).json()["entries"]
    done = [(e["action"], e["target"], e["status"]) for e in entries if e["status"] < 400]
    assert done == [
        ("schedule.run_now", "weekday-report", 202),
        ("schedule.resume", "weekday-report", 200),
        ("schedule.pause", "weekday-report", 200),
        ("schedule.create", "weekday-report", 201),
    ]


async def test_a_ticks_job_shows_its_schedule_and_tick(gated: Gated, clock: SteppedClock) -> None:
    await gated.admin("POST", "/schedules", {**REPORT, "cron": "*/5 * * * *", "tz": "UTC"})
    clock.step(300)
    [fired] = await FiringLoop(gated.book).fire_due()
    read = gated.headers["read"]
    job = (await gated.client.get(f"/jobs/{fired.job_id}", headers=read)).json()
    assert (job["schedule"], job["schedule_tick_at"]) == (
        "weekday-report",
        "2026-06-01T12:05:00.000000Z",
    )
    assert job["run_at"] == "2026-06-01T12:05:00.000000Z"
    runs = (await gated.client.get("/schedules/weekday-report", headers=read)).json()["last_runs"]
    assert [(r["job_id"], r["outcome"], r["job_state"]) for r in runs] == [
        (fired.job_id, "fired", "scheduled")
    ]
