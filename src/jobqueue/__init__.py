"""jobqueue: a distributed job queue with durable submission, retries and a dead-letter queue."""

from importlib import metadata

from jobqueue.errors import JobqueueError, Reject, Retry
from jobqueue.handlers import Handlers, JobContext
from jobqueue.job import Job

__all__ = ["Handlers", "Job", "JobContext", "JobqueueError", "Reject", "Retry"]


def _installed_version() -> str:
    """The version in the installed package's metadata; ``0+unknown`` for a bare source tree."""
    try:
        return metadata.version("jobqueue")
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()
