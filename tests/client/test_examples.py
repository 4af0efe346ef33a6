"""The examples in ``examples/``, each run against the real API: curl, Go, TypeScript and
Python submit a job and wait for its result. A missing toolchain skips its example, except
under CI=true, where it fails."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.client.conftest import ADMIN_SECRET, require_tool
from tests.ui.conftest import ROOT, Stack

EXAMPLES = ROOT / "examples"
RUN_S = 120.0
STRIP_TYPES = (22, 6)  # the first Node that runs .ts files itself (--experimental-strip-types)


def run(argv: list[str], stack: Stack, cwd: Path = ROOT, **env: str) -> str:
    """Run an example against the stack's API with the admin token; its standard output,
    after checking it ran a job to success."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=stack.env(JOBQUEUE_API_URL=stack.base, JOBQUEUE_TOKEN=ADMIN_SECRET, **env),
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.match(r"submitted [0-9a-f-]{36}\n", done.stdout), done.stdout
    return done.stdout


def final_job(output: str) -> dict[str, object]:
    """The finished job an example printed as JSON, last."""
    job: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    return job


def test_the_curl_example_submits_and_waits(stack: Stack) -> None:
    require_tool("curl")

    job = final_job(run(["bash", str(EXAMPLES / "curl" / "submit-and-wait.sh")], stack))

    assert job["state"] == "succeeded"
    assert job["result"] == {"hello": "world"}


def test_the_go_example_builds_offline_and_submits_and_waits(stack: Stack, tmp_path: Path) -> None:
    go = require_tool("go")
    offline = {
        "GOCACHE": str(tmp_path / "cache"),
        "GOPATH": str(tmp_path / "gopath"),
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "",
    }

    job = final_job(run([go, "run", "."], stack, cwd=EXAMPLES / "go", **offline))

    assert job["state"] == "succeeded"
    assert job["result"] == {"hello": "world"}


def test_the_typescript_example_type_checks_and_submits_and_waits(
    stack: Stack, tmp_path: Path
) -> None:
    node = require_tool("node")
    source = EXAMPLES / "typescript"
    if _node_version(node) >= STRIP_TYPES:
        argv = [node, "--experimental-strip-types", str(source / "submit-and-wait.ts")]
    else:  # an older Node runs what tsc (Debian's node-typescript) compiles
        tsc = require_tool("tsc")
        built = tmp_path / "dist"
        compiled = subprocess.run(
            [tsc, "-p", str(source), "--outDir", str(built)], capture_output=True, text=True
        )
        assert compiled.returncode == 0, compiled.stdout + compiled.stderr
        (built / "package.json").write_text('{"type": "module"}\n')
        argv = [node, str(built / "submit-and-wait.js")]

    job = final_job(run(argv, stack))

    assert job["state"] == "succeeded"
    assert job["result"] == {"hello": "world"}


def test_the_python_example_submits_and_waits_with_the_client(stack: Stack) -> None:
    output = run([sys.executable, str(EXAMPLES / "python" / "submit_and_wait.py")], stack)

    assert output.splitlines()[-1] == "succeeded {'hello': 'world'}"


def _node_version(node: str) -> tuple[int, int]:
    text = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    major, minor = text.strip().lstrip("v").split(".")[:2]
    return int(major), int(minor)
