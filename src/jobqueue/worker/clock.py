"""The current UTC time as the store's ISO 8601 text, cheaply: every status event carries it."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_second_prefix: tuple[int, str] = (-1, "")  # one tuple, swapped whole: threads read it too


def utc_iso_now() -> str:
    """Now, as ``store.events.to_iso`` writes it (``2024-05-01T12:00:00.123456Z``).

    ``datetime.now(UTC).isoformat()`` costs microseconds a call; here only the fraction is
    formatted each time, and the date and time of day once a second.
    """
    global _second_prefix
    second, micros = divmod(time.time_ns() // 1000, 1_000_000)
    cached_second, prefix = _second_prefix
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_prefix = (second, prefix)
    return f"{prefix}.{micros:06d}Z"
