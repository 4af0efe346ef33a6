"""The worker node: consume jobs, run their handlers, retry with backoff, dead-letter."""

from jobqueue.worker.backoff import RetryPolicy
from jobqueue.worker.stats import WorkerStats
from jobqueue.worker.worker import Worker

__all__ = ["RetryPolicy", "Worker", "WorkerStats"]
