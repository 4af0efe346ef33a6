"""The embedded broker's disk in trouble: full while clients submit, a worker killed while it
commits; afterwards ``PRAGMA integrity_check`` on every database file."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import resource
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.chaos.fleet import Fleet, Verdict
from benchmarks.chaos.pace import Pace
from benchmarks.chaos.traffic import Traffic
from benchmarks.process import stop
from benchmarks.rig import Rig

TMPFS_SIZE = "16m"
# x86_64 and aarch64 numbers of the calls a commit is made of: writes to the WAL, its sync.
COMMIT_CALLS = {"x86_64": {1, 18, 74, 75}, "aarch64": {64, 68, 82, 83}}
LEASE_S = 2.0


@contextlib.contextmanager
def small_filesystem(folder: Path) -> Iterator[bool]:
    """A tmpfs of 16 MiB mounted on ``folder`` if this machine lets us (True), else nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(folder))
    try:
        yield mounted
    finally:
        if mounted:
            _run("umount", "-l", str(folder))


@contextlib.contextmanager
def disk_full(folder: Path, mounted: bool, pid: int) -> Iterator[None]:
    """The disk under ``folder`` full for the block: a ballast file fills the tmpfs; without one,
    no file of process ``pid`` may grow (RLIMIT_FSIZE 0, which Python's SIGXFSZ ignore turns
    into EFBIG for each write)."""
    ballast = folder / "ballast"
    if mounted:
        _fill(ballast)
    else:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
    try:
        yield
    finally:
        if mounted:
            ballast.unlink(missing_ok=True)
        else:
            limit = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, limit)


def full_disk(rig: Rig, pace: Pace) -> Verdict:
    """The disk of the broker and store fills while clients submit, then has room again."""
    folder = rig.folder / "disk"
    with small_filesystem(folder) as mounted:
        fleet = Fleet(rig, f"sqlite:///{folder / 'jobs.db'}", "jobs")
        api = fleet.start_api()
        fleet.start_worker("worker", "--concurrency", "4")
        with fleet.traffic(clients=pace.clients, every_s=pace.every_s) as traffic:
            traffic.wait_accepted(pace.before)
            with disk_full(folder, mounted, api.pid):
                full_s = time.monotonic()
                time.sleep(pace.fault_s)
                roomy_s = time.monotonic()
            traffic.wait_accepted(pace.after)
        fleet.settle(traffic.accepted(), pace.settle_s)
        verdict = fleet.verdict(
            "disk full",
            traffic,
            recovery_s=_round(traffic.first_accepted_after(roomy_s)),
            simulated="tmpfs full" if mounted else "RLIMIT_FSIZE",
            statuses_while_full=_statuses(traffic, full_s + 0.5, roomy_s),
            integrity=integrity(folder),
        )
        for process in rig.processes:  # they must let go of the files before the unmount
            stop(process)
    return verdict


def commit_killed(rig: Rig, pace: Pace) -> Verdict:
    """A worker is SIGKILLed while one of its threads is inside a write or sync of the broker's
    database (found by stopping it, at random moments, until one is); another takes over."""
    fleet = Fleet(rig, rig.sqlite_url("jobs"), "jobs")
    fleet.start_api()
    victim = fleet.start_worker("worker", "--concurrency", "4", "--sqlite-lease-s", str(LEASE_S))
    with fleet.traffic(clients=pace.clients, every_s=pace.every_s) as traffic:
        traffic.wait_accepted(pace.before)
        tries = kill_during_commit(victim, rig.folder / "jobs.db")
        killed_s = time.monotonic()
        fleet.start_worker("rescuer", "--concurrency", "4")
        traffic.wait_accepted(pace.after)
    fleet.settle(traffic.accepted(), pace.settle_s)
    return fleet.verdict(
        "worker killed mid-commit",
        traffic,
        recovery_s=None,
        tries=tries,
        seconds_to_settle=round(time.monotonic() - killed_s, 1),
        integrity=integrity(rig.folder),
    )


def kill_during_commit(process: subprocess.Popen[bytes], database: Path) -> int:
    """SIGSTOP the process at random moments until a thread of it is writing or syncing
    ``database`` (or its WAL), then SIGKILL it there; how many stops it took."""
    calls = COMMIT_CALLS[os.uname().machine]
    for tries in range(1, 5001):
        time.sleep(random.uniform(0.0, 0.005))
        process.send_signal(signal.SIGSTOP)
        if _in_commit(process.pid, calls, database):
            process.kill()
            process.wait()
            return tries
        process.send_signal(signal.SIGCONT)
    raise RuntimeError("never caught the worker inside a commit")


def integrity(folder: Path) -> dict[str, str]:
    """``PRAGMA integrity_check`` of every database in ``folder``, by file name."""
    results = {}
    for path in sorted(folder.glob("*.db")):
        with contextlib.closing(sqlite3.connect(path)) as conn:
            results[path.name] = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    return results


def _in_commit(pid: int, calls: set[int], database: Path) -> bool:
    files = {str(database), f"{database}-wal"}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (task / "syscall").read_text().split()
            if int(fields[0]) in calls:
                fd = int(fields[1], 16)
                if os.readlink(f"/proc/{pid}/fd/{fd}") in files:
                    return True
    return False


def _fill(ballast: Path) -> None:
    """Write ``ballast`` until the filesystem has no room left (even for its first byte)."""
    chunk = b"\0" * 65536
    try:
        with ballast.open("wb") as out:
            while True:
                out.write(chunk)
                out.flush()
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise


def _statuses(traffic: Traffic, start_s: float, end_s: float) -> dict[int, int]:
    counts: dict[int, int] = {}
    for answer in traffic.between(start_s, end_s):
        counts[answer.status] = counts.get(answer.status, 0) + 1
    return dict(sorted(counts.items()))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _run(*argv: str) -> bool:
    done = subprocess.run(argv, capture_output=True, check=False)
    return done.returncode == 0
