"""Error fingerprints: masked messages and digests that group the same error, whatever its data."""

from __future__ import annotations

import hashlib

import pytest

from jobqueue.brokers import Death, DeathReason
from jobqueue.triage.fingerprint import error_message, error_type, fingerprint, masked_message


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("user 42 not found", "user <n> not found"),
        ("took 1.25 s, limit 0.5 s", "took <n> s, limit <n> s"),
        ("job 0190f3c2-7b1a-7c4e-9d2f-0123456789ab failed", "job <id> failed"),
        ("object at 0x7f3a2b1c not callable", "object at <id> not callable"),
        ("commit deadbeef42cafe01 missing", "commit <id> missing"),
        ("no key 'alice@example.com' in cache", "no key '<v>' in cache"),
        ('bad header "X-Thing: 3"', 'bad header "<v>"'),
        ("can't reach host", "can't reach host"),
        ("first line 1\nsecond line 2", "first line <n>"),
        ("", ""),
    ],
)
def test_masked_message_hides_numbers_ids_and_quoted_values(message: str, masked: str) -> None:
    assert masked_message(message) == masked


def test_a_word_made_of_hex_letters_is_not_an_id() -> None:
    assert masked_message("decade of facade") == "decade of facade"


def test_the_same_error_with_other_numbers_and_ids_has_one_fingerprint() -> None:
    one = fingerprint("email", "KeyError", "user 42 (id 0190f3c2-7b1a-7c4e-9d2f-0123456789ab)")
    two = fingerprint("email", "KeyError", "user 977 (id 0190aaaa-0000-7c4e-9d2f-ffffffffffff)")
    three = fingerprint("email", "KeyError", "user 'bob' missing")
    four = fingerprint("email", "KeyError", "user 'carol' missing")
    assert one == two
    assert three == four
    assert len(one) == 12
    assert int(one, 16) >= 0


def test_another_exception_type_or_job_type_is_another_fingerprint() -> None:
    base = fingerprint("email", "KeyError", "user 42")
    assert fingerprint("email", "ValueError", "user 42") != base
    assert fingerprint("resize", "KeyError", "user 42") != base
    assert fingerprint("email", "KeyError", "account 42") != base


def test_the_fingerprint_is_the_head_of_a_sha256_so_it_is_stable_across_processes() -> None:
    digest = hashlib.sha256(b"email\x1fValueError\x1fbad <n>").hexdigest()
    assert fingerprint("email", "ValueError", "bad 7") == digest[:12] == "f02ee8920b13"


def _death(error: str | None, traceback: str | None = None, reason: str = "max_attempts") -> Death:
    return Death(reason=reason, error=error, traceback=traceback)


def test_the_exception_type_comes_from_the_traceback_first() -> None:
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "app.py", line 3, in send\n'
        "    raise mail.errors.Bounced('x')\n"
        "mail.errors.Bounced: mailbox full\n"
    )
    assert error_type(_death("Bounced: mailbox full", traceback)) == "mail.errors.Bounced"


def test_the_exception_type_comes_from_the_error_when_the_traceback_says_nothing() -> None:
    assert error_type(_death("ValueError: bad address")) == "ValueError"
    assert error_type(_death("TimeoutError:")) == "TimeoutError"
    assert error_type(_death("ValueError: x", "Traceback (most recent call last): ...")) == (
        "ValueError"
    )


def test_a_death_without_an_exception_is_typed_by_its_reason() -> None:
    unknown = _death("no handler for job type 'x'", reason=DeathReason.UNKNOWN_TYPE)
    assert error_type(unknown) == "unknown_type"
    assert error_type(_death(None, reason=DeathReason.REDELIVERY_LIMIT)) == "redelivery_limit"
    assert error_type(_death("boom")) == "max_attempts"


def test_the_message_loses_its_type_prefix() -> None:
    death = _death("ValueError: bad address 12")
    assert error_message(death, error_type(death)) == "bad address 12"
    assert error_message(_death("boom"), "max_attempts") == "boom"
