"""The worker's cheap UTC timestamps: the store's wire form, and the time it is."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from jobqueue.store.events import parse_time
from jobqueue.worker.clock import utc_iso_now


def test_the_timestamp_is_the_stores_wire_form_with_microseconds() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", utc_iso_now())


def test_the_timestamp_is_now() -> None:
    before = datetime.now(UTC)
    stamped = parse_time(utc_iso_now())
    after = datetime.now(UTC)
    assert before - timedelta(microseconds=1) <= stamped <= after
