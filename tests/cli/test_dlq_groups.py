"""``jobqueue dlq groups`` and ``jobqueue dlq replay --group``: directly on a real SQLite file,
and through a real API."""

from __future__ import annotations

import json
import time

from jobqueue.errors import ConfigError, NotFound
from jobqueue.job import Job
from tests.cli.test_dlq import (
    TIMEOUT_S,
    api,
    api_broker,
    api_url,
    depth,
    make_dead,
    run,
    run_api,
    url,
)

__all__ = ["api", "api_broker", "api_url", "url"]


def _seed(url: str) -> list[Job]:
    keys = [Job(type="email", payload={"n": n}) for n in range(3)]
    make_dead(url, keys[:2], "KeyError: 'user 41'")
    make_dead(url, keys[2:], "KeyError: 'user 97'")
    make_dead(url, [Job(type="resize", payload={})], "ValueError: width 0 < 1\x1b[31m")
    return keys


def test_groups_show_a_table_biggest_first(url: str) -> None:
    _seed(url)

    code, output, _ = run(url, "groups")

    assert code == 0
    lines = output.splitlines()
    for header in ("COUNT", "TYPE", "ERROR TYPE", "MESSAGE", "LAST SEEN", "FINGERPRINT"):
        assert header in lines[1] or header in output
    keys = next(line for line in lines if "KeyError" in line)
    assert " 3 " in f" {keys} "
    assert "'<v>'" in keys
    assert "\x1b" not in output
    assert "\\x1b" in output


def test_groups_as_json_give_one_object_per_group(url: str) -> None:
    _seed(url)

    code, output, _ = run(url, "groups", "--json")

    groups = [json.loads(line) for line in output.splitlines()]
    assert code == 0
    assert [(g["error_type"], g["count"]) for g in groups] == [("KeyError", 3), ("ValueError", 1)]
    assert groups[1]["message"] == "width <n> < <n>\x1b[<n>m"


def test_an_empty_queue_has_no_groups(url: str) -> None:
    code, output, _ = run(url, "groups")

    assert code == 0
    assert "the dead-letter queue is empty" in output


def test_a_group_is_replayed_directly(url: str) -> None:
    _seed(url)
    _, output, _ = run(url, "groups", "--json")
    fingerprint = json.loads(output.splitlines()[0])["fingerprint"]

    code, output, _ = run(url, "replay", "--group", fingerprint)

    assert code == 0
    assert f"replayed 3 dead job(s) of group {fingerprint}" in output
    assert depth(url) == (3, 1)


def test_an_unknown_group_is_an_error(url: str) -> None:
    _seed(url)

    code, _, exception = run(url, "replay", "--group", "0123456789ab")

    assert code == 1
    assert isinstance(exception, NotFound)
    assert "no dead job group with fingerprint '0123456789ab'" in str(exception)
    assert depth(url) == (0, 4)


def test_replay_takes_one_of_an_id_all_or_a_group(url: str) -> None:
    both = run(url, "replay", "--all", "--group", "0123456789ab")
    pace = run(url, "replay", "--all", "--per-second", "2")

    assert both[0] == pace[0] == 1
    assert isinstance(both[2], ConfigError)
    assert "give one of" in str(both[2])
    assert isinstance(pace[2], ConfigError)
    assert "--per-second goes with --group" in str(pace[2])


def test_a_group_is_replayed_through_the_api_at_a_pace(api_url: str, api_broker: str) -> None:
    _seed(api_broker)
    _, output, _ = run_api(api_url, "groups", "--json")
    fingerprint = json.loads(output.splitlines()[0])["fingerprint"]

    code, output, _ = run_api(api_url, "replay", "--group", fingerprint, "--per-second", "50")

    assert code == 0
    assert f"replaying 3 dead job(s) of group {fingerprint}" in output
    deadline = time.monotonic() + TIMEOUT_S
    while depth(api_broker) != (3, 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert depth(api_broker) == (3, 1)
