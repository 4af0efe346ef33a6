"""The benchmark harness runs end to end on tiny sizes, so that it cannot rot unnoticed."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from benchmarks.bare import consume, publish
from benchmarks.drain import drain_rabbitmq, drain_rate
from benchmarks.profile import read, summary
from benchmarks.report import MetricSpec, Spec, at_least, at_most, collect, table
from benchmarks.rig import Options, Stamp, delete_queues, percentile, request_body, rig
from benchmarks.submit import submit_batch
from tests.services import RABBITMQ_URL

ROOT = Path(__file__).resolve().parents[2]


def test_quick_sqlite_figures_run_end_to_end_and_write_their_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "drain-sqlite",
            "latency-sqlite",
            "--quick",
            "--results-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| drain-sqlite: " in done.stdout
    drain = json.loads((tmp_path / "drain-sqlite.json").read_text())
    assert drain["error"] is None
    assert drain["runs"][0]["jobs"] == Options.quick().drain_jobs
    assert drain["runs"][0]["duplicates"] == 0
    assert drain["metrics"][0]["median"] > 0
    latency = json.loads((tmp_path / "latency-sqlite.json").read_text())
    assert latency["runs"][0]["jobs"] == Options.quick().latency_jobs
    assert not (tmp_path / "summary.json").exists()  # only a full run writes the summary


def test_batch_submission_through_a_real_api_counts_only_accepted_jobs() -> None:
    options = dataclasses.replace(Options.quick(), submit_duration_s=0.6)
    with rig(options) as current:
        record = submit_batch(current, current.sqlite_url())
    assert record["jobs_per_request"] == 100
    assert record["jobs_per_s"] == pytest.approx(100 * record["requests_per_s"])
    assert record["requests"] > 0
    assert "ratio_to_bare" not in record  # no bare ceiling on SQLite


@pytest.mark.rabbitmq
def test_bare_pika_clients_publish_and_consume_every_message() -> None:
    queue = f"bench-test-{uuid.uuid4().hex[:8]}"
    try:
        published = publish(RABBITMQ_URL, queue, 200, window=50)
        consumed = consume(RABBITMQ_URL, queue, 200, prefetch=8)
    finally:
        delete_queues(RABBITMQ_URL, [queue])
    assert (published.messages, consumed.messages) == (200, 200)
    assert published.rate_per_s > 0
    assert consumed.rate_per_s > 0


@pytest.mark.rabbitmq
def test_the_rabbitmq_drain_runs_again_without_status_events_in_the_same_run() -> None:
    options = dataclasses.replace(Options.quick(), amqp_url=RABBITMQ_URL)
    with rig(options) as current:
        record = drain_rabbitmq(current)
        with_status = current.log("worker").read_text()
        without = current.log("worker-status-off").read_text()
    assert "status events:" in with_status  # the reporter's account at exit
    assert "status events:" not in without
    assert (record["jobs"], record["duplicates"]) == (options.drain_jobs, 0)
    assert record["ratio_to_bare"] == pytest.approx(
        record["jobs_per_s"] / record["bare_consume_per_s"]
    )
    assert record["no_status_jobs_per_s"] > 0
    assert record["no_status_ratio_to_bare"] == pytest.approx(
        record["no_status_jobs_per_s"] / record["bare_consume_per_s"]
    )


def test_drain_rate_counts_the_gaps_between_first_and_last_start() -> None:
    stamps = [Stamp(f"j{n}", n * 1_000_000, 0, "w") for n in range(11)]  # one job per ms
    assert drain_rate(stamps) == pytest.approx(1000.0)


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (
        50.0,
        99.0,
        100.0,
    )


def test_a_batch_body_holds_the_same_padded_job_many_times() -> None:
    single, batch = json.loads(request_body(1)), json.loads(request_body(3))
    assert batch == {"jobs": [single] * 3}


def test_the_table_marks_each_metric_against_its_target() -> None:
    spec = Spec(
        "fig",
        "a figure",
        lambda _rig: {},
        (MetricSpec("rate", "jobs/s", at_least(100)), MetricSpec("p99", "p99 ms", at_most(5), 1)),
    )
    result = collect(
        spec, [{"rate": 90, "p99": 4}, {"rate": 120, "p99": 6}, {"rate": 110, "p99": 4}], None
    )
    lines = table([result]).splitlines()
    assert lines[2] == "| fig: a figure | jobs/s | 110 | 90-120 | ≥ 100 | PASS |"
    assert lines[3] == "|  | p99 ms | 4.0 | 4.0-6.0 | ≤ 5.00 | PASS |"
    assert result.passed is True


def test_a_py_spy_profile_is_summed_by_function_and_thread(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "thread (1): MainThread;main (app.py:1);work (app.py:5) 30\n"
        "thread (1): MainThread;main (app.py:1);work (app.py:6);send (net.py:9) 50\n"
        "thread (2): ThreadPoolExecutor-0_1;run (pool.py:3);commit (db.py:7) 20\n"
    )
    profile = read(raw)
    assert profile.samples == 100
    assert (profile.own["send (net.py)"], profile.total["work (app.py)"]) == (50, 80)
    assert profile.threads == {"MainThread": 80, "ThreadPoolExecutor-0_N": 20}
    assert "62.5  send (net.py)" in summary(profile, 5)  # 50 of the main thread's 80
