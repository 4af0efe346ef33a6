"""An API and workers as real processes on one broker, and the verdict on what a fault did."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.chaos.traffic import Traffic
from benchmarks.process import free_port
from benchmarks.rig import APP, Rig

SETTLE_TIMEOUT_S = 60.0
PAGE = 1000


@dataclass(frozen=True)
class Verdict:
    """What a fault did to the jobs a client was told were accepted, seen from outside."""

    fault: str
    broker: str
    accepted: int
    lost: int  # answered 202, never ran
    duplicates: int  # runs beyond each job's first
    unfinished: int  # answered 202, not ``succeeded`` in the job store
    statuses: dict[int, int]  # answers by status; 0 is no answer (refused, reset)
    slowest_s: float  # the longest any request waited for its answer
    recovery_s: float | None = None  # the fault's own figure (e.g. to the first 202 after it)
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fleet:
    """``jobqueue api`` and ``jobqueue worker`` processes of one rig on ``broker_url``.

    The workers run the benchmark handlers: ``record`` appends each job's id to the rig's done
    file when it finishes, so a job's runs are counted outside every process.
    """

    rig: Rig
    broker_url: str
    queue: str
    base_url: str = ""
    grpc: str = ""
    api: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.rig.extra_env["JOBQUEUE_BENCH_DONE_FILE"] = str(self.done_file)
        self.rig.extra_env["JOBQUEUE_HEARTBEAT_INTERVAL_S"] = "0.5"

    @property
    def done_file(self) -> Any:
        """Where ``record`` notes each run."""
        return self.rig.folder / "done.txt"

    def start_api(self, *extra: str) -> subprocess.Popen[bytes]:
        """Start the API (on new ports the first time, the same ones after) and wait for it."""
        if not self.base_url:
            http, self.grpc = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
            self.base_url = f"http://{http}"
        args = ["api", "--broker-url", self.broker_url, "--queue", self.queue]
        args += ["--http-addr", self.base_url.removeprefix("http://"), "--grpc-addr", self.grpc]
        self.api = self.rig.start("api", [*args, *extra], self.broker_url)
        self.rig.wait_ready(self.base_url, self.api, "api")
        return self.api

    def start_worker(self, name: str, *extra: str, url: str = "") -> subprocess.Popen[bytes]:
        """Start a worker of the benchmark handlers (on ``url``, else the fleet's broker)."""
        args = ["worker", "--app", APP, "--broker-url", url or self.broker_url]
        args += ["--queue", self.queue, "--api-grpc", self.grpc, *extra]
        return self.rig.start(name, args, self.broker_url)

    def traffic(self, **options: Any) -> Traffic:
        """Clients submitting to this fleet's API."""
        return Traffic(self.base_url, **options)

    def runs(self) -> Counter[str]:
        """How many times each job ran to its end."""
        if not self.done_file.exists():
            return Counter()
        return Counter(self.done_file.read_text().split())

    def states(self) -> dict[str, str]:
        """Every job's state in the job store, by id."""
        states: dict[str, str] = {}
        cursor: str | None = None
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            while True:
                params: dict[str, Any] = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
                page = client.get("/jobs", params=params).raise_for_status().json()
                states.update({job["id"]: job["state"] for job in page["jobs"]})
                cursor = page["next_cursor"]
                if not cursor:
                    return states

    def settle(
        self, accepted: set[str], timeout_s: float = SETTLE_TIMEOUT_S, tracked: bool = True
    ) -> None:
        """Wait until every accepted job ran and (``tracked``: workers report status) the store
        shows it succeeded, or the timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ran = accepted <= set(self.runs())
            if ran and (not tracked or self._all_succeeded(accepted)):
                return
            time.sleep(0.2)

    def verdict(
        self, fault: str, traffic: Traffic, tracked: bool = True, **figures: Any
    ) -> Verdict:
        """The verdict on every job ``traffic`` got accepted (call :meth:`settle` first).

        Untracked (workers without status events), a job that ran counts as finished.
        """
        accepted, runs = traffic.accepted(), self.runs()
        states = self.states() if tracked else {job_id: "succeeded" for job_id in runs}
        return Verdict(
            fault=fault,
            broker=self.broker_url.split(":", 1)[0],
            accepted=len(accepted),
            lost=len(accepted - set(runs)),
            duplicates=sum(count - 1 for job_id, count in runs.items() if job_id in accepted),
            unfinished=sum(1 for job_id in accepted if states.get(job_id) != "succeeded"),
            statuses=dict(sorted(traffic.statuses().items())),
            slowest_s=round(max((a.took_s for a in traffic.answers), default=0.0), 3),
            recovery_s=figures.pop("recovery_s", None),
            notes=figures,
        )

    def _all_succeeded(self, accepted: set[str]) -> bool:
        try:
            states = self.states()
        except httpx.HTTPError:
            return False
        return all(states.get(job_id) == "succeeded" for job_id in accepted)
