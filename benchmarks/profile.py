"""Read a py-spy profile (``--format raw``): the functions with the most samples, self and total.

    py-spy record --pid PID --rate 200 --format raw --threads --nonblocking -o worker.txt
    python -m benchmarks.profile worker.txt --top 25

Each line of the raw format is one call stack (frames ``function (file:line)`` joined by ``;``)
and how many samples caught it. *self* counts the samples where a function was the innermost
frame (its own code, or C code it called); *total* those where it was anywhere on the stack
(counted once per stack, so recursion does not inflate it). Percentages are of all samples;
with ``--idle`` they include the samples that caught the process waiting. A profile recorded
with ``--threads`` also gets each thread's share, and the main thread's own table: the event
loop's thread is the one that saturates first.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_LINE_NO = re.compile(r":\d+\)$")


@dataclass
class Profile:
    """Samples per function: as the innermost frame and anywhere on the stack."""

    samples: int
    own: Counter[str]
    total: Counter[str]
    threads: Counter[str]
    main_own: Counter[str]


def frame_name(frame: str) -> str:
    """``handle (jobqueue/worker/worker.py:123)`` without its line number."""
    return _LINE_NO.sub(")", frame.strip())


def read(path: Path) -> Profile:
    """Read a raw (collapsed stacks) py-spy profile."""
    profile = Profile(0, Counter(), Counter(), Counter(), Counter())
    for line in path.read_text().splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        frames = [frame_name(f) for f in match["stack"].split(";") if f]
        thread = frames.pop(0) if frames and frames[0].startswith("thread (") else ""
        if frames:
            _count(profile, _thread_name(thread), frames, int(match["count"]))
    return profile


def _thread_name(frame: str) -> str:
    """``thread (123): MainThread`` → ``MainThread``; a pool's threads share one name."""
    name = frame.partition(": ")[2] or frame
    return re.sub(r"_\d+$", "_N", name)


def _count(profile: Profile, thread: str, frames: list[str], count: int) -> None:
    profile.samples += count
    profile.own[frames[-1]] += count
    for name in set(frames):
        profile.total[name] += count
    if thread:
        profile.threads[thread] += count
        if thread == "MainThread":
            profile.main_own[frames[-1]] += count


def summary(profile: Profile, top: int) -> str:
    """The ``top`` functions by own samples, then by total samples, as two text tables."""
    lines = [f"{profile.samples} samples", "", "self %  function"]
    for name, count in profile.own.most_common(top):
        lines.append(f"{100 * count / profile.samples:6.1f}  {name}")
    lines += ["", "total %  function"]
    for name, count in profile.total.most_common(top):
        lines.append(f"{100 * count / profile.samples:7.1f}  {name}")
    if profile.threads:
        lines += ["", "thread %  thread"]
        for name, count in profile.threads.most_common():
            lines.append(f"{100 * count / profile.samples:8.1f}  {name}")
        lines += ["", "self % of MainThread  function"]
        main = profile.threads["MainThread"] or 1
        for name, count in profile.main_own.most_common(top):
            lines.append(f"{100 * count / main:20.1f}  {name}")
    return "\n".join(lines)


def main() -> None:
    """Print the summary of one profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summary(read(args.path), args.top))


if __name__ == "__main__":
    main()
