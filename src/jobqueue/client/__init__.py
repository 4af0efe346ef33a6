"""A client of the jobqueue HTTP API: :class:`Client` (blocking) and :class:`AsyncClient`.

```python
from jobqueue.client import Client

with Client("http://127.0.0.1:8080", token="jq_...") as client:
    job = client.submit("email", {"to": "a@b.c"}, priority=5)
    done = client.wait(job.id, timeout_s=30)
    print(done.state, done.result)
```

Every submission carries an idempotency key the client makes, and a submission that met a
lost connection, a timeout or a ``503`` is sent again with the same key: the API answers the
job the first try made, so a retry never makes a second job. Errors are the project's
(:mod:`jobqueue.client.errors`).
"""

from jobqueue.client.aio import AsyncClient
from jobqueue.client.errors import (
    ApiError,
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    JobFinished,
    NotFound,
    RateLimited,
    ServerError,
    SubmissionInFlight,
    Unauthorized,
    Unavailable,
    UnknownJobType,
    WaitTimeout,
)
from jobqueue.client.models import (
    FINISHED_STATES,
    Batch,
    BulkResult,
    DeadGroup,
    DeadJob,
    Job,
    JobEvent,
    JobState,
    Page,
    Submission,
    Worker,
)
from jobqueue.client.retry import NO_RETRY, RetryPolicy
from jobqueue.client.spec import JobSpec
from jobqueue.client.sync import Client

__all__ = [
    "FINISHED_STATES",
    "NO_RETRY",
    "ApiError",
    "AsyncClient",
    "Batch",
    "BulkResult",
    "Client",
    "Conflict",
    "DeadGroup",
    "DeadJob",
    "Forbidden",
    "IdempotencyKeyReused",
    "InvalidRequest",
    "Job",
    "JobEvent",
    "JobFinished",
    "JobSpec",
    "JobState",
    "NotFound",
    "Page",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Submission",
    "SubmissionInFlight",
    "Unauthorized",
    "Unavailable",
    "UnknownJobType",
    "WaitTimeout",
    "Worker",
]
