"""Secrets in URLs never reach an error or a log: passwords with '@', '/', '?' or '#' in them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from jobqueue.api.outage import Outage
from jobqueue.brokers import from_url, redact_text, redact_url
from jobqueue.brokers.sqlite_store.url import database_path
from jobqueue.errors import ConfigError
from jobqueue.registry import from_url as registry_from_url
from jobqueue.store.engine import parse_url

CANARY = "CANARY"

REDACTED = {
    "amqp://guest:guest@host:5672/": "amqp://guest:***@host:5672/",
    "amqp://guest:SECRET@CANARY@host/": "amqp://guest:***@host/",
    "amqp://guest:SECRET/CANARY@host:5672/": "amqp://***@host:5672/",
    "amqp://guest:SE?CANARY@host/": "amqp://***@host/",
    "amqp://guest:SE#CANARY@host/": "amqp://***@host/",
    "amqp://guest:a@b/CANARY@host/": "amqp://***@host/",
    "redis://:CANARY@host:6379/0": "redis://:***@host:6379/0",
    "postgresql://jq:CANARY@host/db?password=CANARY&x=1": "postgresql://jq:***@host/db?password=***&x=1",
    "guest:CANARY@host": "guest:***@host",
    "amqp://guest@host/": "amqp://guest@host/",
    "sqlite:///srv/a@b/jobs.db": "sqlite:///srv/a@b/jobs.db",
    "amqp://host:5672/vhost": "amqp://host:5672/vhost",
}


@pytest.mark.parametrize(("url", "shown"), REDACTED.items(), ids=REDACTED.keys())
def test_the_whole_password_is_hidden(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_pieces_of_a_password_quoted_by_a_library_are_hidden() -> None:
    url = "amqp://guest:SECRET/CANARY@host:5672/"
    text = f"Port could not be cast to integer value as 'SECRET'; url {url}"
    assert redact_text(text, url) == "Port could not be cast to integer value as '***'; url " + (
        "amqp://***@host:5672/"
    )


@pytest.mark.parametrize(
    "url", ["amqp://guest:SECRET/CANARY@127.0.0.1:5672/", "amqp://guest:x@y:CANARY@127.0.0.1:z/"]
)
def test_an_unreadable_broker_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_url(url)
    assert "invalid broker URL" in str(caught.value)
    assert CANARY not in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_an_unreadable_registry_url_is_refused_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        registry_from_url("redis://:SECRET/CANARY@127.0.0.1:6379/0")
    assert "invalid registry URL" in str(caught.value)
    assert CANARY not in str(caught.value)
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    ("parse", "url"),
    [
        (database_path, "sqlite://guest:CANARY@host/jobs.db"),
        (from_url, "sqlite://guest:CANARY@host/jobs.db"),
        (from_url, "unknown://guest:CANARY@x"),
        (parse_url, "sqlite://guest:CANARY@host/"),
        (parse_url, "unknown://guest:CANARY@x"),
        (registry_from_url, "etcd://guest:CANARY@x"),
    ],
)
def test_bad_sqlite_and_unknown_urls_are_named_without_their_password(
    parse: Callable[[str], object], url: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(url)
    assert CANARY not in str(caught.value)
    assert "guest:***@" in str(caught.value)


def test_an_outage_reason_hides_every_piece_of_the_password() -> None:
    url = "amqp://guest:SECRET@CANARY@host/"
    outage = Outage("broker", url, interval_s=30)
    reason = outage.reason(OSError(f"connect to CANARY@host failed ({url})"))
    assert CANARY not in reason
    assert "SECRET" not in reason
    assert outage.name == "broker amqp://guest:***@host/"


def test_jobqueue_api_with_an_unreadable_broker_url_says_so_without_the_password(
    tmp_path: Path,
) -> None:
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "jobqueue", "api"),
            *("--broker-url", "amqp://guest:SECRET/CANARY@127.0.0.1:5672/"),
            *("--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert "invalid broker URL 'amqp://***@127.0.0.1:5672/'" in completed.stderr
    assert CANARY not in completed.stderr + completed.stdout
    assert "SECRET" not in completed.stderr + completed.stdout
