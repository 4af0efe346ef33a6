"""The package as a user (and the Dockerfile) gets it: ``python -m build`` makes an sdist and a
wheel; the wheel and its dependencies, built as the Dockerfile's first stage builds them, install
into a fresh venv without the index and without the dev extras, as a user other than root; from
there ``jobqueue up`` runs a job, the image's HEALTHCHECK passes, and ``jobqueue --version``
answers. The gRPC pair is the lowest of its ranges, so the workers' registration over gRPC
proves those releases work."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement

from tests.deploy.dockerfile import ROOT, builder_sources, healthcheck_argv, image_extras
from tests.services import POSTGRES_URL, free_port
from tests.store.conftest import drop_schema
from tests.test_up import get_json, poll

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

LOWEST_OF = ("grpcio", "protobuf")  # their ranges' lowest releases are the ones installed
RUNNER = "nobody"  # who installs and runs the package when the tests run as root
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NEW_ENOUGH = "import ensurepip, sys; sys.exit(sys.version_info < (3, 11))"


@dataclass(frozen=True)
class Installed:
    """The built distributions, and the venv they were installed into."""

    sdist: Path
    wheel: Path
    venv: Path
    home: Path
    lowest: dict[str, str]

    def bin(self, name: str) -> str:
        """A program of the venv."""
        return str(self.venv / "bin" / name)


def missing(what: str) -> None:
    """Skip for lack of ``what``, except under CI=true where it fails."""
    if CI:
        pytest.fail(f"{what} (CI=true: the packaging tests must run)", pytrace=False)
    pytest.skip(what)


def build_context(into: Path) -> Path:
    """A copy of what the builder stage copies, without the caches .dockerignore leaves out."""
    ignored = shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.egg-info")
    for source in builder_sources():
        origin, target = ROOT / source, into / source
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=ignored)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    return into


def run(argv: list[str], timeout_s: float = 180.0, **options: Any) -> str:
    """Run a step; its standard output, or fail with everything it printed."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, **options)
    if done.returncode != 0:
        pytest.fail(f"{argv[:4]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def as_runner(argv: list[str]) -> list[str]:
    """``argv`` run as the unprivileged user when the tests run as root, else as is."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        missing("setpriv is missing (util-linux): it runs the install as a user, not root")
    user = pwd.getpwnam(RUNNER)
    return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", *argv]


def runner_env(home: Path, **more: str) -> dict[str, str]:
    """A plain user's environment: no JOBQUEUE_* or pip settings of ours, a HOME of its own."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", **more}


def base_python(home: Path) -> str:
    """A Python 3.11+ whose venvs the runner may run (root's own may sit where it may not)."""
    candidates = ["/usr/bin/python3", "/usr/local/bin/python3", os.path.realpath(sys.executable)]
    probe = home / "probe-venv"
    for candidate in dict.fromkeys(c for c in candidates if os.path.exists(c)):
        made = subprocess.run(
            as_runner([candidate, "-m", "venv", "--without-pip", "--clear", str(probe)]),
            env=runner_env(home),
            capture_output=True,
        )
        runs = made.returncode == 0 and subprocess.run(
            as_runner([str(probe / "bin" / "python"), "-c", NEW_ENOUGH]),
            env=runner_env(home),
            capture_output=True,
        )
        shutil.rmtree(probe, ignore_errors=True)
        if runs and runs.returncode == 0:
            return candidate
    missing(f"no Python 3.11+ with venv that {RUNNER} may run (apt-get install python3-venv)")
    raise AssertionError  # unreachable: missing() skips or fails


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """The Requires-Dist entries of a wheel's metadata."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(name).decode().splitlines()
    return [Requirement(ln.partition(":")[2]) for ln in lines if ln.startswith("Requires-Dist:")]


def lowest_versions(wheel: Path) -> dict[str, str]:
    """The lower bound of each of LOWEST_OF's ranges, read from the wheel's metadata."""
    lowest = {}
    for requirement in wheel_requirements(wheel):
        if requirement.name in LOWEST_OF and requirement.marker is None:
            (bound,) = [s.version for s in requirement.specifier if s.operator == ">="]
            lowest[requirement.name] = bound
    assert sorted(lowest) == sorted(LOWEST_OF), lowest
    return lowest


def owned_by_runner(path: Path) -> Path:
    """Make ``path`` a directory the runner owns."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        user = pwd.getpwnam(RUNNER)
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def build_distributions(base: Path) -> tuple[Path, Path]:
    """``python -m build`` on a copy of the builder stage's context: the sdist, and the wheel
    built from it."""
    context = build_context(base / "context")
    dist = base / "dist"
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(context)])
    (sdist,), (wheel,) = list(dist.glob("*.tar.gz")), list(dist.glob("*.whl"))
    return sdist, wheel


def builder_stage(python: str, wheel: Path, lowest: dict[str, str], base: Path) -> Path:
    """The builder stage's ``pip wheel --wheel-dir /wheels`` (with the image's extras), on the
    Python the final stage runs (environment markers pick the dependencies), with the gRPC pair
    at its lowest."""
    constraints = base / "lowest.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in lowest.items()))
    builder, wheels = base / "builder", base / "wheels"
    run([python, "-m", "venv", str(builder)])
    run([str(builder / "bin" / "pip"), "wheel", "-q", "--wheel-dir", str(wheels),
         "--constraint", str(constraints), f"{wheel}{image_extras()}"])  # fmt: skip
    return wheels


def final_stage(python: str, wheels: Path, venv: Path, home: Path) -> None:
    """The final stage's venv, from the wheels alone (no index), made by the runner."""
    env = runner_env(home)
    run(as_runner([python, "-m", "venv", str(venv)]), env=env)
    run(as_runner([str(venv / "bin" / "pip"), "install", "-q", "--no-index",
                   "--find-links", str(wheels), f"jobqueue{image_extras()}"]), env=env)  # fmt: skip


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    """Build, collect the wheels as the builder stage does, install them as the final stage
    does: once for the module (about 40 s, most of it pip)."""
    base = Path(tempfile.mkdtemp(prefix="jobqueue-packaging-"))
    base.chmod(0o755)  # the runner reads the wheels; it writes only below base/user
    try:
        user = owned_by_runner(base / "user")
        home = owned_by_runner(user / "home")
        python = base_python(home)
        sdist, wheel = build_distributions(base)
        lowest = lowest_versions(wheel)
        wheels = builder_stage(python, wheel, lowest, base)
        venv = user / "venv"
        final_stage(python, wheels, venv, home)
        yield Installed(sdist, wheel, venv, home, lowest)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def venv_healthcheck(installed: Installed) -> list[str]:
    """The Dockerfile's HEALTHCHECK, its ``python`` the venv's (as the image's PATH makes it)."""
    argv = healthcheck_argv()
    assert argv[0] == "python"
    return [installed.bin("python"), *argv[1:]]


def test_the_wheel_and_sdist_carry_every_file_of_the_package(installed: Installed) -> None:
    package = ROOT / "src" / "jobqueue"
    expected = {
        f"jobqueue/{path.relative_to(package).as_posix()}"
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    with zipfile.ZipFile(installed.wheel) as archive:
        shipped = {name for name in archive.namelist() if name.startswith("jobqueue/")}
    assert expected - shipped == set()  # templates, static files, migrations, py.typed, .pyi
    with tarfile.open(installed.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert "proto/jobqueue/control/worker.proto" in names
    assert {"pyproject.toml", "README.md", "src/jobqueue/py.typed"} <= names
    assert {f"src/{name}" for name in expected} <= names


def test_the_fresh_venv_has_no_dev_extras_and_the_lowest_grpc_releases(
    installed: Installed,
) -> None:
    probe = (
        "import importlib.metadata as m, importlib.util as u, sys\n"
        "print(m.version('grpcio'), m.version('protobuf'))\n"
        "print(*(n for n in ('pytest', 'mypy', 'ruff', 'selenium') if u.find_spec(n)))\n"
        "print(bool(u.find_spec('asyncpg')))\n"
    )
    out = run(as_runner([installed.bin("python"), "-c", probe]), env=runner_env(installed.home))
    versions, dev_tools, asyncpg = out.splitlines()
    assert versions.split() == [installed.lowest["grpcio"], installed.lowest["protobuf"]]
    assert dev_tools == ""
    assert asyncpg == "True"  # the image's [postgres] extra


def test_jobqueue_version_is_the_wheels(installed: Installed) -> None:
    version = installed.wheel.name.split("-")[1]
    env = runner_env(installed.home)
    out = run(as_runner([installed.bin("jobqueue"), "--version"]), env=env)
    assert out == f"jobqueue {version}\n"
    module = run(
        as_runner([installed.bin("python"), "-c", "import jobqueue; print(jobqueue.__version__)"]),
        env=env,
    )
    assert module == f"{version}\n"


def test_jobqueue_up_from_the_venv_runs_a_job_and_passes_the_images_healthcheck(
    installed: Installed,
) -> None:
    port = free_port()
    http, grpc = f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"
    base = f"http://{http}"
    workdir = owned_by_runner(installed.home / "run")
    argv = [installed.bin("jobqueue"), "up", "--workers", "2", "--http-addr", http,
            "--grpc-addr", grpc]  # fmt: skip
    env = runner_env(installed.home, JOBQUEUE_HEARTBEAT_INTERVAL_S="0.5")
    check = venv_healthcheck(installed)
    check_env = {**env, "JOBQUEUE_HTTP_ADDR": f"0.0.0.0:{port}"}
    log = installed.home / "up.log"
    with log.open("w") as out:
        process = subprocess.Popen(as_runner(argv), cwd=workdir, env=env, stdout=out, stderr=out)
    try:
        poll(lambda: get_json(f"{base}/readyz"))
        submitted = httpx.post(f"{base}/jobs", json={"type": "echo", "payload": {"from": "venv"}})
        assert submitted.status_code == 202, submitted.text
        job_url = f"{base}/jobs/{submitted.json()['id']}"
        done = poll(lambda: (r := get_json(job_url)) and r["state"] == "succeeded" and r)
        assert done["result"] == {"from": "venv"}
        # Both workers registered and heartbeat over gRPC, on the lowest grpcio and protobuf.
        poll(lambda: (r := get_json(f"{base}/workers")) and len(r["workers"]) == 2)
        assert subprocess.run(as_runner(check), env=check_env, timeout=20).returncode == 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, log.read_text()
    failed = subprocess.run(as_runner(check), env=check_env, capture_output=True, timeout=20)
    assert failed.returncode != 0  # nothing answers /healthz now: the check says unhealthy
    assert {path.name for path in workdir.iterdir()} >= {"jobqueue.db", "jobqueue-state.db"}


def test_asyncpg_comes_only_with_the_postgres_extra(installed: Installed) -> None:
    (asyncpg_entry,) = [r for r in wheel_requirements(installed.wheel) if r.name == "asyncpg"]
    assert asyncpg_entry.marker is not None
    assert asyncpg_entry.marker.evaluate({"extra": "postgres"})
    assert not asyncpg_entry.marker.evaluate({"extra": ""})


def without_asyncpg(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``jobqueue ARGV`` as in an install without the [postgres] extra, after importing the
    API's and the worker's modules."""
    as_if_missing = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "import jobqueue.api.serve, jobqueue.cli.worker, jobqueue.store.sql\n"
        "from jobqueue.cli import main\n"
        "sys.argv = ['jobqueue', *sys.argv[1:]]\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQUEUE_")}
    return subprocess.run(
        [sys.executable, "-c", as_if_missing, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_asyncpg_sqlite_serves_and_postgres_is_one_line_naming_the_extra(
    tmp_path: Path,
) -> None:
    sqlite = without_asyncpg(tmp_path, "db", "upgrade", "--store-url", "sqlite:///state.db")
    assert sqlite.returncode == 0, sqlite.stderr
    assert (tmp_path / "state.db").exists()
    postgres_url = "postgresql://jobqueue@127.0.0.1:1/jobqueue"
    postgres = without_asyncpg(tmp_path, "db", "upgrade", "--store-url", postgres_url)
    assert postgres.returncode == 1
    assert postgres.stderr.splitlines() == [
        "error: a PostgreSQL store needs asyncpg, which is not installed: "
        "pip install 'jobqueue[postgres]'"
    ]


@pytest.mark.postgres
async def test_the_venv_migrates_a_postgres_store_as_the_compose_migration_does(
    installed: Installed,
) -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    argv = [installed.bin("jobqueue"), "db", "upgrade"]
    env = runner_env(installed.home, JOBQUEUE_STORE_URL=f"{POSTGRES_URL}?schema={schema}")
    try:
        out = run(as_runner(argv), env=env, cwd=installed.home)
    finally:
        await drop_schema(schema)
    assert out.endswith("(the newest)\n"), out


def test_the_wheel_is_pure_python_for_every_platform(installed: Installed) -> None:
    assert re.fullmatch(r"jobqueue-[^-]+-py3-none-any\.whl", installed.wheel.name)
