"""The dashboard's words for common cron expressions (others are shown as they are)."""

from __future__ import annotations

import pytest

from jobqueue.schedule.words import describe


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("* * * * *", "every minute"),
        ("*/15 * * * *", "every 15 minutes"),
        ("0 */2 * * *", "every 2 hours"),
        ("5 * * * *", "every hour at minute 5"),
        ("30 2 * * *", "every day at 02:30"),
        ("0 6 * * 1-5", "every weekday at 06:00"),
        ("0 9 * * 1", "every Monday at 09:00"),
        ("0 9 * * mon,wed,fri", "on Monday, Wednesday and Friday at 09:00"),
        ("0 0 1 * *", "on day 1 of every month at 00:00"),
        ("@hourly", "every hour"),
        ("@weekly", "every Sunday at 00:00"),
        ("* * * * * *", "every second"),
        ("* * * * * */10", "every 10 seconds"),
    ],
)
def test_common_forms_in_words(expression: str, words: str) -> None:
    assert describe(expression) == words


@pytest.mark.parametrize("expression", ["0 9 1-7 * 1", "*/7 9-17 * 1-6 *", "0 0 * * * 5"])
def test_other_forms_have_no_words(expression: str) -> None:
    assert describe(expression) is None
