"""No secret ever leaves: a whole run on RabbitMQ, PostgreSQL and Redis with canary passwords and
tokens, then every log line and every answer is searched for them, and none is found."""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.auth.test_serve_auth import jobqueue
from tests.control.polling import eventually
from tests.control.processes import Process
from tests.services import free_port
from tests.store.conftest import drop_schema

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.redis]


class Canaries:
    """A secret per service, and the URLs that carry them."""

    def __init__(self) -> None:
        tag = secrets.token_hex(4)
        self.user = f"jqcanary-{tag}"
        self.broker = f"CANARYbroker{tag}@x"  # an '@' in the password, the hard case
        self.store = f"CANARYstore{tag}"
        self.registry = f"CANARYregistry{tag}"
        self.schema = f"test_{uuid.uuid4().hex[:12]}"
        self.queue = f"canary-{tag}"

    @property
    def all(self) -> list[str]:
        return [self.broker, self.store, self.registry, self.broker.split("@")[0]]

    def broker_url(self, port: int = 5672) -> str:
        return f"amqp://{self.user}:{self.broker.replace('@', '%40')}@127.0.0.1:{port}/"

    def store_url(self) -> str:  # trust auth: the server accepts any password
        return f"postgresql://postgres:{self.store}@127.0.0.1:5432/test?schema={self.schema}"

    def registry_url(self) -> str:
        return f"redis://{self.user}:{self.registry}@127.0.0.1:6379/15"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def canaries() -> Iterator[Canaries]:
    """A RabbitMQ user and a Redis ACL user with canary passwords, removed after."""
    canaries = Canaries()
    _rabbitmqctl("add_user", canaries.user, canaries.broker)
    _rabbitmqctl("set_permissions", "-p", "/", canaries.user, ".*", ".*", ".*")
    admin = redis.Redis(host="127.0.0.1", port=6379)
    admin.acl_setuser(
        canaries.user,
        enabled=True,
        passwords=[f"+{canaries.registry}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    try:
        yield canaries
    finally:
        admin.acl_deluser(canaries.user)
        admin.close()
        _rabbitmqctl("delete_user", canaries.user)


@pytest.fixture
async def schema_dropped(canaries: Canaries) -> AsyncIterator[None]:
    yield
    await drop_schema(canaries.schema)


async def _exercise(base_url: str, tokens: dict[str, str], answers: list[str]) -> None:
    """Good and bad requests of every kind; each answer's headers and body kept."""

    async def keep(response: httpx.Response) -> httpx.Response:
        answers.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    submit = {"Authorization": f"Bearer {tokens['submit']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        job = await keep(
            await client.post("/jobs", json={"type": "echo", "payload": {}}, headers=submit)
        )
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        for path in ("/jobs", f"/jobs/{job_id}", "/workers", "/dlq", "/readyz", "/audit", "/nope"):
            await keep(await client.get(path, headers=admin))
        await keep(
            await client.get("/jobs", headers={"Authorization": f"Bearer {tokens['admin']}x"})
        )
        await keep(
            await client.post(
                "/jobs", content=b"{", headers={**submit, "Content-Type": "application/json"}
            )
        )
        await keep(await client.delete("/dlq", headers=admin))

        async def succeeded() -> bool:
            answer = await client.get(f"/jobs/{job_id}", headers=admin)
            return answer.json()["state"] == "succeeded"

        await eventually(succeeded, timeout_s=30, what="the job to succeed")


async def test_no_log_line_or_answer_of_a_full_run_holds_a_secret(
    tmp_path: Path, canaries: Canaries, schema_dropped: None
) -> None:
    env = {
        "JOBQUEUE_BROKER_URL": canaries.broker_url(),
        "JOBQUEUE_QUEUE": canaries.queue,
        "JOBQUEUE_STORE_URL": canaries.store_url(),
        "JOBQUEUE_REGISTRY_URL": canaries.registry_url(),
        "JOBQUEUE_LOG_LEVEL": "DEBUG",
    }
    run = jobqueue(tmp_path, "token", "create", "ops", "--scope", "admin", env=env)
    assert run.returncode == 0, run.stderr
    tokens = {"admin": run.stdout.strip().splitlines()[-1]}
    tokens["submit"] = create_token_in(tmp_path, env, "app", "submit")
    tokens["worker"] = create_token_in(tmp_path, env, "fleet", "worker")
    http_port, grpc_port = free_port(), free_port()
    api_env = {
        **env,
        "JOBQUEUE_HTTP_ADDR": f"127.0.0.1:{http_port}",
        "JOBQUEUE_GRPC_ADDR": f"127.0.0.1:{grpc_port}",
    }
    api = Process(["api"], api_env, tmp_path / "api.log")
    worker = Process(
        ["worker", "--api-grpc", f"127.0.0.1:{grpc_port}"],
        {**env, "JOBQUEUE_TOKEN": tokens["worker"]},
        tmp_path / "worker.log",
    )
    answers: list[str] = []
    try:
        base_url = f"http://127.0.0.1:{http_port}"
        await eventually(lambda: _answers(base_url), timeout_s=30, what="the API to answer")
        await _exercise(base_url, tokens, answers)
        down = jobqueue(tmp_path, "jobs", "--api-url", base_url, env={"JOBQUEUE_TOKEN": "jq_bad"})
        answers.append(down.stdout + down.stderr)
    finally:
        worker.stop()
        api.stop()
    outputs = [api.output(), worker.output(), run.stdout, run.stderr, *answers]
    outputs += _failures(tmp_path, canaries, tokens)
    for output in outputs:
        for secret in [*canaries.all, *tokens.values()]:
            if secret == tokens["admin"] and output is run.stdout:
                continue  # token create prints its own secret, once, on purpose
            assert secret not in output, f"a secret leaked into: {output[:300]}"
    assert "Traceback" not in api.output()


def create_token_in(tmp_path: Path, env: dict[str, str], name: str, scope: str) -> str:
    made = jobqueue(tmp_path, "token", "create", name, "--scope", scope, env=env)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


async def _answers(base_url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1) as client:
            return (await client.get(f"{base_url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


def _failures(tmp_path: Path, canaries: Canaries, tokens: dict[str, str]) -> list[str]:
    """Commands that fail on bad or unreachable URLs: what they print."""
    unreachable = canaries.broker_url(port=free_port())
    broken = f"amqp://guest:{canaries.broker.split('@')[0]}/x@@:::/"
    outputs = []
    for env in (
        {"JOBQUEUE_BROKER_URL": unreachable, "JOBQUEUE_STORE_URL": canaries.store_url()},
        {"JOBQUEUE_BROKER_URL": broken},
        {"JOBQUEUE_STORE_URL": f"postgresql://postgres:{canaries.store}@127.0.0.1:{free_port()}/x"},
    ):
        for args in (
            ["dlq", "list", "--broker-url", env.get("JOBQUEUE_BROKER_URL", "sqlite:///x.db")],
            [
                "api",
                "--wait-for-broker",
                "2",
                "--http-addr",
                f"127.0.0.1:{free_port()}",
                "--grpc-addr",
                "127.0.0.1:0",
            ],
            ["token", "list"],
        ):
            outputs.append(_output_within(tmp_path, args, env, timeout_s=8))
    return outputs


def _output_within(tmp_path: Path, args: list[str], env: dict[str, str], timeout_s: float) -> str:
    """What a command printed, stopped after ``timeout_s`` if it still runs (an API that keeps
    retrying a store or broker)."""
    try:
        result = jobqueue(tmp_path, *args, env=env, timeout_s=timeout_s)
    except subprocess.TimeoutExpired as exc:
        return _text(exc.stdout) + _text(exc.stderr)
    return result.stdout + result.stderr


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""
