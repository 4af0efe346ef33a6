"""The logging setup every command shares."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from jobqueue.errors import ConfigError
from jobqueue.logs import setup_logging

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO jobqueue\.worker: job 7 succeeded$", re.M
)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root logger (and pytest's capture handlers on it) back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    pika_level = logging.getLogger("pika").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("pika").setLevel(pika_level)


@pytest.mark.usefixtures("restored_logging")
def test_lines_carry_time_level_logger_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info")
    logging.getLogger("jobqueue.worker").info("job %s succeeded", 7)
    logging.getLogger("jobqueue.worker").debug("not shown")

    err = capsys.readouterr().err
    assert LINE.search(err)
    assert "not shown" not in err


@pytest.mark.usefixtures("restored_logging")
def test_chatty_libraries_log_only_warnings() -> None:
    setup_logging("DEBUG")
    assert logging.getLogger("asyncio").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("jobqueue").getEffectiveLevel() == logging.DEBUG


def test_pika_speaks_only_at_debug_since_the_broker_reports_its_failures() -> None:
    setup_logging("INFO")
    assert logging.getLogger("pika").getEffectiveLevel() == logging.CRITICAL
    setup_logging("DEBUG")
    assert logging.getLogger("pika").getEffectiveLevel() == logging.DEBUG


def test_an_unknown_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="log level"):
        setup_logging("LOUD")
