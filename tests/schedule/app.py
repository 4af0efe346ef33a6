"""Handlers declaring schedules, for the tests of declared schedules."""

from __future__ import annotations

from typing import Any

from jobqueue import Handlers

handlers = Handlers()


@handlers.job("report", cron="0 6 * * 1-5", tz="Europe/Berlin", payload={"to": "team"})
async def report(payload: Any) -> Any:
    """Send the report."""
    return payload


handlers.schedule("cleanup", cron="@daily", job_type="report", missed="run_once", overlap="skip")
