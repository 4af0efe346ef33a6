"""jobqueue: a distributed job queue with durable submission, retries and a dead-letter queue."""

from jobqueue.errors import JobqueueError, Reject, Retry
from jobqueue.handlers import Handlers, JobContext
from jobqueue.job import Job

__all__ = ["Handlers", "Job", "JobContext", "JobqueueError", "Reject", "Retry"]
__version__ = "0.1.0"
