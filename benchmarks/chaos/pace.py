"""How long and how hard each fault runs: a few seconds in the tests, longer for the figures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pace:
    """The sizes of one fault run."""

    clients: int = 4  # submitting threads
    every_s: float = 0.02  # each client's pause between requests
    before: int = 20  # jobs accepted before the fault starts
    fault_s: float = 2.0  # how long the fault lasts
    after: int = 20  # jobs accepted after the fault ended, before the clients stop
    work_ms: int = 5  # each job's work
    settle_s: float = 60.0  # how long every accepted job may take to run and succeed

    @classmethod
    def long(cls) -> Pace:
        """The figures' sizes."""
        return cls(clients=8, before=300, fault_s=10.0, after=300, settle_s=180.0)
