"""The pods' environment, given to real processes: the migration, the API and a worker run with
exactly the variables the rendered manifests give them (the Secret's values from
secret.env.example, its URLs pointed at the test's RabbitMQ, PostgreSQL and Redis; the ports
free ones), and answer as the probes, the kubelet and the Service expect."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobqueue import config
from tests.brokers.rabbit import delete_queues, fresh_queue_name
from tests.deploy.test_kubernetes import ROOT, Object, rendered
from tests.deploy.test_kubernetes_wiring import container, example_secret, pod
from tests.services import POSTGRES_URL, RABBITMQ_URL, REDIS_URL, free_port
from tests.store.conftest import drop_schema

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.redis]

START_S = 30.0


def environment(objects: list[Object], box: Object, secret: dict[str, str]) -> dict[str, str]:
    """The variables a container of ``objects`` gets: ConfigMaps, values, Secret keys."""
    found: dict[str, str] = {}
    for source in box.get("envFrom", []):
        (config_map,) = [
            obj
            for obj in objects
            if obj["kind"] == "ConfigMap"
            and obj["metadata"]["name"] == source["configMapRef"]["name"]
        ]
        found |= config_map["data"]
    for item in box.get("env", []):
        if "value" in item:
            found[item["name"]] = item["value"]
        else:
            found[item["name"]] = secret[item["valueFrom"]["secretKeyRef"]["key"]]
    return found


def on_port(addr: str, port: int) -> str:
    """``addr`` (host:port) with its host kept and its port replaced."""
    host, _ = config.parse_addr(addr, "addr")
    return f"{host}:{port}"


@dataclass
class Pods:
    """The environments of the rendered pods' containers, made to run on this machine."""

    migrate: dict[str, str]
    api: dict[str, str]
    worker: dict[str, str]
    http_url: str
    worker_metrics_url: str
    ops_token: str
    api_termination_s: float
    worker_termination_s: float


@pytest.fixture
def pods() -> Iterator[Pods]:
    """The keda-prometheus overlay's environments on a fresh queue, schema and key prefix."""
    objects = rendered("keda-prometheus")
    queue, schema = fresh_queue_name(), f"test_{uuid.uuid4().hex[:12]}"
    secret = example_secret() | {
        "broker-url": RABBITMQ_URL,
        "store-url": f"{POSTGRES_URL}?schema={schema}",
        "registry-url": f"{REDIS_URL}?key_prefix=jobqueue-test:{uuid.uuid4().hex[:12]}:",
    }
    (migrate,) = pod(objects, "jobqueue-api")["initContainers"]
    api = environment(objects, container(objects, "jobqueue-api"), secret)
    worker = environment(objects, container(objects, "jobqueue-worker"), secret)
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    # Only what cannot be the cluster's: the queue (the test's own), the ports (free ones)
    # and the Service's name (no cluster DNS here).
    api |= {
        "JOBQUEUE_QUEUE": queue,
        "JOBQUEUE_HTTP_ADDR": on_port(api["JOBQUEUE_HTTP_ADDR"], http_port),
        "JOBQUEUE_GRPC_ADDR": on_port(api["JOBQUEUE_GRPC_ADDR"], grpc_port),
    }
    worker |= {
        "JOBQUEUE_QUEUE": queue,
        "JOBQUEUE_API_GRPC": f"127.0.0.1:{grpc_port}",
        "JOBQUEUE_METRICS_ADDR": on_port(worker["JOBQUEUE_METRICS_ADDR"], metrics_port),
    }
    ops = next(line for line in secret["api-tokens"].split() if line.startswith("ops:"))
    try:
        yield Pods(
            environment(objects, migrate, secret),
            api,
            worker,
            f"http://127.0.0.1:{http_port}",
            f"http://127.0.0.1:{metrics_port}/metrics",
            ops.split(":", 2)[2],
            pod(objects, "jobqueue-api")["terminationGracePeriodSeconds"],
            pod(objects, "jobqueue-worker")["terminationGracePeriodSeconds"],
        )
    finally:
        delete_queues(RABBITMQ_URL, queue)
        asyncio.run(drop_schema(schema))


def clean_env(variables: dict[str, str]) -> dict[str, str]:
    """This process's environment without its JOBQUEUE_* variables, plus ``variables``."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("JOBQUEUE_")}
    return kept | variables


def jobqueue(args: list[str], variables: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``jobqueue ARGS`` as a container runs it, with only ``variables`` of jobqueue's."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "jobqueue", *args],
            cwd=ROOT,
            env=clean_env(variables),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def eventually(check: Callable[[], bool], what: str, log: Path) -> None:
    """Poll ``check`` until it holds; fail with the process's log after START_S."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {START_S} s\n{log.read_text()[-3000:]}")


def desired_workers(exposition: str, queue: str) -> float | None:
    """The ``jobqueue_desired_workers`` sample of ``queue`` in a /metrics text."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "jobqueue_desired_workers" and sample.labels == {"queue": queue}:
                return sample.value
    return None


def stops_cleanly(process: subprocess.Popen[bytes], within_s: float) -> int:
    """SIGTERM, as the kubelet sends; the exit code, killing it past ``within_s``."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return -1


def test_the_pods_environment_runs_the_migration_the_api_and_a_worker(
    pods: Pods, tmp_path: Path
) -> None:
    migrated = subprocess.run(
        [sys.executable, "-m", "jobqueue", *["db", "upgrade"]],
        cwd=ROOT,
        env=clean_env(pods.migrate),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "(the newest)" in migrated.stdout
    api_log, worker_log = tmp_path / "api.log", tmp_path / "worker.log"
    api = jobqueue(["api"], pods.api, api_log)
    worker = None
    try:
        with httpx.Client(base_url=pods.http_url, timeout=5.0) as http:
            eventually(lambda: http.get("/readyz").status_code == 200, "API ready", api_log)
            # The probes and the scraper go without a token; the rest does not.
            assert http.get("/healthz").status_code == 200
            assert http.get("/metrics").status_code == 200
            assert http.get("/workers").status_code == 401
            worker = jobqueue(["worker"], pods.worker, worker_log)
            ops = {"Authorization": f"Bearer {pods.ops_token}"}

            def registered() -> bool:
                listed = http.get("/workers", headers=ops).json()["workers"]
                return [item["concurrency"] for item in listed] == [8]

            eventually(registered, "the worker registered with its token", worker_log)
            # What the keda-prometheus trigger reads: one worker wanted, within 1:10.
            desired = desired_workers(http.get("/metrics").text, pods.api["JOBQUEUE_QUEUE"])
            assert desired == 1, desired
            eventually(
                lambda: httpx.get(pods.worker_metrics_url).status_code == 200,
                "the worker's /metrics",
                worker_log,
            )
            submitted = http.post("/jobs", json={"type": "echo", "payload": {"k": 1}}, headers=ops)
            assert submitted.status_code == 202, submitted.text
            job_id = submitted.json()["id"]
            eventually(
                lambda: (
                    http.get(f"/jobs/{job_id}", params={"wait": 5}, headers=ops).json()["state"]
                    == "succeeded"
                ),
                "the job ran",
                worker_log,
            )
        # Both exit 0 before the kubelet's SIGKILL would come.
        assert stops_cleanly(worker, within_s=pods.worker_termination_s) == 0
        assert stops_cleanly(api, within_s=pods.api_termination_s) == 0
    finally:
        for process in (worker, api):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
