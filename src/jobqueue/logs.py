"""Logging for every command: one line per record, time, level, logger, message."""

from __future__ import annotations

import logging
import sys

from jobqueue.errors import ConfigError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
QUIET_LOGGERS = ("asyncio", "httpx", "httpcore")
# pika logs every failed connection attempt at ERROR in six lines; the broker reports each in one.
SILENT_UNLESS_DEBUG = ("pika",)


def setup_logging(level: str) -> None:
    """Log to stderr at ``level`` (a name such as ``INFO``); a bad name is a ConfigError.

    Lines look like ``2026-11-28 10:00:00,123 INFO jobqueue.worker: job <id> succeeded``.
    Chatty libraries log only their warnings.
    """
    name = level.strip().upper()
    if name not in LEVELS:
        raise ConfigError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    logging.basicConfig(level=name, format=LOG_FORMAT, stream=sys.stderr, force=True)
    for quiet in QUIET_LOGGERS:
        logging.getLogger(quiet).setLevel(max(logging.WARNING, logging.getLevelName(name)))
    for silent in SILENT_UNLESS_DEBUG:
        logging.getLogger(silent).setLevel(logging.DEBUG if name == "DEBUG" else logging.CRITICAL)
