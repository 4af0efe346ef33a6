"""The logging setup every command shares."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobqueue.errors import ConfigError
from jobqueue.logs import setup_logging
from jobqueue.store import from_url as store_from_url

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO jobqueue\.worker: job 7 succeeded$", re.M
)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root logger (and pytest's capture handlers on it) back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("pika", "alembic")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


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


@pytest.mark.usefixtures("restored_logging")
def test_control_characters_a_client_sent_are_escaped_in_the_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO")
    hostile = "a b\x1b[31mred\r\n2026-01-01 00:00:00,000 INFO jobqueue.api: forged\u2028\x07"
    logging.getLogger("jobqueue.api").info("worker %s registered", hostile)

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "\x1b" not in err
    assert "\x07" not in err
    assert "\u2028" not in err
    assert err.endswith(
        "jobqueue.api: worker a b\\x1b[31mred\\r\\n2026-01-01 00:00:00,000 INFO "
        "jobqueue.api: forged\\u2028\\x07 registered\n"
    )


@pytest.mark.usefixtures("restored_logging")
def test_a_traceback_keeps_its_lines_each_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO")
    try:
        raise ValueError("bad\x1b[2J input")
    except ValueError:
        logging.getLogger("jobqueue.api").exception("unexpected error on %s", "GET /x\ny")

    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("jobqueue.api: unexpected error on GET /x\\ny")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: bad\\x1b[2J input"
    assert len(lines) > 3


def test_pika_speaks_only_at_debug_since_the_broker_reports_its_failures() -> None:
    setup_logging("INFO")
    assert logging.getLogger("pika").getEffectiveLevel() == logging.CRITICAL
    setup_logging("DEBUG")
    assert logging.getLogger("pika").getEffectiveLevel() == logging.DEBUG


def test_an_unknown_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="log level"):
        setup_logging("LOUD")


@pytest.mark.usefixtures("restored_logging")
async def test_an_upgrade_is_one_line_of_the_store_and_alembic_says_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("INFO")
    for _ in range(2):
        store = store_from_url(f"sqlite:///{tmp_path / 'state.db'}")
        await store.connect()
        await store.upgrade()
        await store.close()

    err = capsys.readouterr().err
    assert "alembic" not in err
    [line] = err.splitlines()
    assert "INFO jobqueue.store: job store schema upgraded from nothing to " in line
