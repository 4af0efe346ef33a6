"""JSON log lines: one object per line, with the fields of the job a line is about.

``{"time": "2026-12-04T10:00:00.123456Z", "level": "INFO", "logger": "jobqueue.worker",
"message": "...", "job_id": ..., "type": ..., "attempt": ..., "worker_id": ..., "trace_id": ...}``:
the job's fields come from :mod:`.jobfields` (or from a record's ``extra=`` of the same names),
``trace_id`` whenever there is a trace. What clients sent (a job type, an error's text) is a
JSON string, its control characters escaped by JSON and every other unsafe character
(:func:`jobqueue.escape.is_unsafe`) as ``\\uXXXX``: a line can be neither forged nor made to
drive a terminal.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from jobqueue.escape import escape_json_controls
from jobqueue.job import iso_utc
from jobqueue.telemetry.jobfields import job_fields

FIELDS = ("job_id", "type", "attempt", "worker_id", "trace_id")
"""The job's fields a line may carry, in their order."""


class JsonFormatter(logging.Formatter):
    """Formats each record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's line: time (RFC 3339, UTC), level, logger, message, the job's fields,
        and the exception's or stack's text if any."""
        entry: dict[str, Any] = {
            "time": iso_utc(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(job_fields())
        entry.update({key: record.__dict__[key] for key in FIELDS if key in record.__dict__})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return escape_json_controls(json.dumps(entry, ensure_ascii=False, default=str))
