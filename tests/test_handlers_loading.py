"""``--app pkg.module:attribute``: handlers found from the working directory, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobqueue.errors import ConfigError
from jobqueue.handlers import load_handlers

APP = """
from jobqueue import Handlers

handlers = Handlers()


@handlers.job("hello")
def hello(payload):
    return payload
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project directory, made the working directory; what the tests import from it
    is forgotten afterwards, and the import path is put back."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def write_package(root: Path, name: str, jobs: str) -> None:
    """``root/name/__init__.py`` and ``root/name/jobs.py`` holding ``jobs``."""
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    (root / name / "jobs.py").write_text(jobs)


def load_error(spec: str) -> str:
    """The message of the ConfigError that loading ``spec`` raises."""
    with pytest.raises(ConfigError) as raised:
        load_handlers(spec)
    return str(raised.value)


def test_a_package_in_the_working_directory_loads_without_pythonpath(project: Path) -> None:
    write_package(project, "hereapp", APP)

    handlers = load_handlers("hereapp.jobs:handlers")

    assert handlers.types() == ["hello"]


def test_the_console_script_runs_a_worker_for_a_package_in_the_working_directory(
    tmp_path: Path,
) -> None:
    write_package(tmp_path, "myapp", APP)
    script = Path(sys.executable).parent / "jobqueue"
    argv = [str(script), "worker", "--app", "myapp.jobs:handlers", "--burst", "--api-grpc", ""]
    argv += ["--broker-url", "sqlite:///broker.db"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBQUEUE_", "PYTHONPATH"))}

    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "types=hello" in done.stderr


def test_a_missing_attribute_is_named_with_the_registries_the_module_holds(project: Path) -> None:
    assert load_error("jobqueue.demo:nope") == (
        "--app: module 'jobqueue.demo' has no attribute 'nope' (its Handlers: 'handlers')"
    )


def test_a_missing_module_is_named_with_where_it_was_looked_for(project: Path) -> None:
    assert load_error("nomodule:handlers") == (
        "--app: cannot import 'nomodule': no module named 'nomodule' "
        f"(looked in the working directory {project} and the installed packages)"
    )


def test_a_missing_submodule_names_the_full_module(project: Path) -> None:
    (project / "halfapp").mkdir()
    (project / "halfapp" / "__init__.py").write_text("")

    assert load_error("halfapp.jobs:handlers").startswith(
        "--app: cannot import 'halfapp.jobs': no module named 'halfapp.jobs' (looked in"
    )


def test_a_spec_without_a_colon_says_what_to_add() -> None:
    assert load_error("jobqueue.demo") == (
        "--app must be pkg.module:attribute, got 'jobqueue.demo': "
        "add the name of its Handlers after a colon, such as 'jobqueue.demo:handlers'"
    )


@pytest.mark.parametrize("spec", [":handlers", "jobqueue.demo:", ""])
def test_a_spec_with_an_empty_part_is_refused(spec: str) -> None:
    assert load_error(spec).startswith(f"--app must be pkg.module:attribute, got {spec!r}")


def test_an_attribute_that_is_not_a_handlers_registry_says_what_it_is() -> None:
    assert load_error("jobqueue.demo:log") == (
        "--app: jobqueue.demo:log is a Logger, not a jobqueue.Handlers registry"
    )


def test_a_dependency_missing_inside_the_app_is_named_not_the_app(project: Path) -> None:
    write_package(project, "needyapp", "import nosuchdependency\n" + APP)

    assert load_error("needyapp.jobs:handlers") == (
        "--app: cannot import 'needyapp.jobs': it needs module 'nosuchdependency', "
        "which was not found"
    )


def test_an_error_raised_while_importing_the_app_is_one_line_with_its_place(
    project: Path,
) -> None:
    write_package(project, "brokenapp", "import os\nraise RuntimeError('no config file')\n")

    message = load_error("brokenapp.jobs:handlers")

    path = project / "brokenapp" / "jobs.py"
    assert message == (
        f"--app: cannot import 'brokenapp.jobs': it raised RuntimeError: no config file ({path}:2)"
    )


def test_a_syntax_error_in_the_app_names_its_file_and_line(project: Path) -> None:
    write_package(project, "typoapp", "def broken(:\n")

    message = load_error("typoapp.jobs:handlers")

    assert message.startswith("--app: cannot import 'typoapp.jobs': it raised SyntaxError: ")
    assert f"({project / 'typoapp' / 'jobs.py'}:1)" in message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("jobqueue.demo:nope", "module 'jobqueue.demo' has no attribute 'nope'"),
        ("nomodule:handlers", "cannot import 'nomodule': no module named 'nomodule'"),
        ("jobqueue.demo", "--app must be pkg.module:attribute"),
        ("jobqueue.demo:log", "is a Logger, not a jobqueue.Handlers registry"),
    ],
)
def test_jobqueue_worker_with_a_bad_app_exits_1_with_one_line(
    tmp_path: Path, spec: str, message: str
) -> None:
    argv = [sys.executable, "-m", "jobqueue", "worker", "--app", spec, "--api-grpc", ""]
    argv += ["--broker-url", "sqlite:///broker.db"]

    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]


def test_a_worker_id_the_control_plane_would_refuse_is_refused_before_starting(
    tmp_path: Path,
) -> None:
    argv = [sys.executable, "-m", "jobqueue", "worker", "--worker-id", "a/b\x1b[31m"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == "error: --worker-id: unprintable character '\\x1b' at position 3"
    assert not (tmp_path / "jobqueue.db").exists()
