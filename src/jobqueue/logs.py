"""Logging for every command: one line per record, time, level, logger, message.

As text (the default) or, with ``JOBQUEUE_LOG_FORMAT=json``, one JSON object per line
(:mod:`jobqueue.telemetry.jsonlog`), per-job lines with the job's fields.

What clients and workers send reaches log lines (worker ids, job types, errors), so the
formatter writes every control character of a message as an escape (``\\x1b``, ``\\n``): no
one can forge a log line or drive the terminal that shows the log. A traceback the formatter
appends keeps its lines, each escaped the same way.
"""

from __future__ import annotations

import logging
import os
import sys
from types import TracebackType

from jobqueue import config
from jobqueue.errors import ConfigError
from jobqueue.escape import escape_controls

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
QUIET_LOGGERS = ("asyncio", "httpx", "httpcore")
# pika logs every failed connection attempt at ERROR in six lines; the broker reports each in one.
# alembic logs seven "setup plugin" lines on every start; the store logs its upgrades itself.
SILENT_UNLESS_DEBUG = ("pika",)
WARNINGS_UNLESS_DEBUG = ("alembic",)

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class EscapingFormatter(logging.Formatter):
    """A formatter whose lines hold no control character: each is written as an escape."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line for the record, its message escaped."""
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: _ExcInfo) -> str:
        """The traceback, line by line, each escaped."""
        return _escape_lines(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        """The stack, line by line, each escaped."""
        return _escape_lines(super().formatStack(stack_info))


def _escape_lines(text: str) -> str:
    return "\n".join(escape_controls(line) for line in text.split("\n"))


def setup_logging(level: str, log_format: str | None = None) -> None:
    """Log to stderr at ``level`` (a name such as ``INFO``) in ``log_format`` (``text`` or
    ``json``; by default ``JOBQUEUE_LOG_FORMAT``, else text); a bad name is a ConfigError.

    Text lines look like ``2026-11-28 10:00:00,123 INFO jobqueue.worker: job <id> succeeded``.
    Chatty libraries log only their warnings.
    """
    name = level.strip().upper()
    if name not in LEVELS:
        raise ConfigError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=name, handlers=[handler], force=True)
    debugging = name == "DEBUG"
    for quiet in QUIET_LOGGERS:
        logging.getLogger(quiet).setLevel(max(logging.WARNING, logging.getLevelName(name)))
    for silent in SILENT_UNLESS_DEBUG:
        logging.getLogger(silent).setLevel(logging.DEBUG if debugging else logging.CRITICAL)
    for chatty in WARNINGS_UNLESS_DEBUG:
        logging.getLogger(chatty).setLevel(logging.DEBUG if debugging else logging.WARNING)


def formatter(log_format: str | None = None) -> logging.Formatter:
    """The formatter of ``log_format`` (``JOBQUEUE_LOG_FORMAT`` by default, else text)."""
    variable = config.env("log_format")
    chosen = os.environ.get(variable, "text") if log_format is None else log_format
    normal = chosen.strip().lower()
    if normal not in FORMATS:
        raise ConfigError(f"{variable} must be text or json, got {chosen!r}")
    if normal == "json":
        from jobqueue.telemetry.jsonlog import JsonFormatter

        return JsonFormatter()
    return EscapingFormatter(LOG_FORMAT)
