"""Suite-wide fixtures: each marker that names a server makes its tests require it; the checkout
stays as the tests found it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import require_service

ROOT = Path(__file__).resolve().parent.parent
# Directories whose contents tools rewrite on their own; everything else in the checkout counts.
UNWATCHED_AT_ROOT = frozenset({".git", ".venv", ".hypothesis"})
UNWATCHED_ANYWHERE = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
# Data files: nobody edits them by hand, so a change to one during the session is a test's.
DATA_SUFFIXES = (".db", ".db-wal", ".db-shm", ".db-journal", ".db-bell", ".db-lock")

Stamp = tuple[int, int, int]  # inode, size, modification time (ns)


@pytest.fixture(autouse=True)
def _require_marked_services(request: pytest.FixtureRequest) -> None:
    for name in ("rabbitmq", "redis", "postgres"):
        if request.node.get_closest_marker(name) is not None:
            require_service(name)


@pytest.fixture(scope="session", autouse=True)
def _checkout_left_untouched() -> Iterator[None]:
    """Fail the session if a test left a file in the checkout, or wrote to a database there.

    Tests keep their files in ``tmp_path``; a file that appears in the repository (at any depth)
    or a SQLite file there that changes means a test used a default or relative path, such as
    the job store ``./scripts/run`` uses. Source files that change are not looked at: others
    may be editing them while the tests run.
    """
    before = checkout_files(ROOT)
    yield
    problems = checkout_changes(before, checkout_files(ROOT))
    if problems:
        listed = "\n  ".join(problems)
        pytest.fail(f"the tests wrote into the checkout {ROOT}:\n  {listed}", pytrace=False)


def checkout_files(root: Path) -> dict[str, Stamp]:
    """Every file and directory under ``root`` but tools' caches, by relative path."""
    found: dict[str, Stamp] = {}
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        subfolders[:] = [name for name in subfolders if _watched(here, root, name)]
        for name in [*subfolders, *files]:
            path = here / name
            try:
                info = path.lstat()
            except FileNotFoundError:  # gone since the listing: it is not there to be found
                continue
            found[path.relative_to(root).as_posix()] = (info.st_ino, info.st_size, info.st_mtime_ns)
    return found


def checkout_changes(before: dict[str, Stamp], after: dict[str, Stamp]) -> list[str]:
    """What appeared in the checkout, and which of its data files changed."""
    appeared = [f"new: {path}" for path in sorted(after.keys() - before.keys())]
    changed = [
        f"changed: {path}"
        for path in sorted(after.keys() & before.keys())
        if path.endswith(DATA_SUFFIXES) and after[path] != before[path]
    ]
    return appeared + changed


def _watched(folder: Path, root: Path, name: str) -> bool:
    if name in UNWATCHED_ANYWHERE or name.endswith(".egg-info"):
        return False
    return not (folder == root and name in UNWATCHED_AT_ROOT)
