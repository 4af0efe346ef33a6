"""Fleet-wide concurrency and rate limits: per job type and per key, across every worker.

- :mod:`jobqueue.limits.policy`: the limits a handler declares or a job carries, and their
  parsing (``rate="10/s"``);
- :mod:`jobqueue.limits.backend`: the slot and bucket backends the API answers from (in
  memory, :mod:`~jobqueue.limits.redis` when the registry is on Redis, else
  :mod:`~jobqueue.limits.sql` in the job store);
- :mod:`jobqueue.limits.service`: the control plane's ``AcquireSlot``, ``ReleaseSlots`` and
  ``RenewSlots`` calls over a backend;
- :mod:`jobqueue.limits.gate`: the worker's side: asks before a limited job runs, releases after.
"""

from jobqueue.limits.policy import JobLimit, LimitPolicy, parse_rate

__all__ = ["JobLimit", "LimitPolicy", "parse_rate"]
