"""The repository's Dockerfile and .dockerignore, read as the tests need them (no engine)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions() -> list[str]:
    """The Dockerfile's instructions, each on one line (continuations joined, no comments)."""
    lines = [ln for ln in DOCKERFILE.read_text().splitlines() if not ln.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def stages() -> list[list[str]]:
    """The instructions of each stage, its FROM first."""
    found: list[list[str]] = []
    for instruction in instructions():
        if instruction.startswith("FROM "):
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def arguments(stage: list[str], keyword: str) -> list[str]:
    """What follows ``keyword`` in each of the stage's instructions that start with it."""
    return [i[len(keyword) + 1 :] for i in stage if i.startswith(f"{keyword} ")]


def builder_sources() -> list[str]:
    """What the builder stage copies from the build context (its COPY sources)."""
    sources: list[str] = []
    for copy in arguments(stages()[0], "COPY"):
        if not copy.startswith("--from"):
            sources += copy.split()[:-1]
    return sources


def image_extras() -> str:
    """The extras the image installs jobqueue with (``[postgres]``), the same in both stages:
    the builder's ``pip wheel ".[...]"`` and the final stage's ``pip install "jobqueue[...]"``."""
    (built,) = re.findall(
        r'pip wheel --wheel-dir /wheels "?\.(\[[a-z,]+\])?"?', " ".join(stages()[0])
    )
    (installed,) = re.findall(
        r'--find-links /wheels "?jobqueue(\[[a-z,]+\])?"?', " ".join(stages()[-1])
    )
    assert built == installed, (built, installed)
    return built


def exec_form(text: str) -> list[str]:
    """An instruction's JSON array (``["jobqueue"]``) as a list."""
    argv = json.loads(text)
    assert isinstance(argv, list), text
    assert all(isinstance(arg, str) for arg in argv), text
    return argv


def healthcheck_argv() -> list[str]:
    """The final stage's HEALTHCHECK command."""
    (check,) = arguments(stages()[-1], "HEALTHCHECK")
    return exec_form(check.partition(" CMD ")[2])


def ignored(path: str) -> bool:
    """Whether .dockerignore leaves ``path`` (relative, with ``/``) out of the build context:
    the last pattern that matches it or a folder above it decides, ``!`` including again."""
    verdict = False
    for line in DOCKERIGNORE.read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        include = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        if _matches(path, pattern):
            verdict = not include
    return verdict


def _matches(path: str, pattern: str) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    if pattern.startswith("**/"):
        tail = pattern.removeprefix("**/")
        return any(fnmatch.fnmatchcase(part, tail) for part in parts)
    return any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes)
