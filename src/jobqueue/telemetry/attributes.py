"""The names of the attributes jobqueue's spans carry (OpenTelemetry semantic conventions)."""

from __future__ import annotations

MESSAGING_SYSTEM = "messaging.system"
MESSAGING_DESTINATION = "messaging.destination.name"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_BATCH_COUNT = "messaging.batch.message_count"
HTTP_METHOD = "http.request.method"
HTTP_STATUS = "http.response.status_code"
URL_PATH = "url.path"
ERROR_TYPE = "error.type"

JOB_TYPE = "jobqueue.job.type"
JOB_ATTEMPT = "jobqueue.job.attempt"
JOB_OUTCOME = "jobqueue.job.outcome"
WORKER_ID = "jobqueue.worker.id"
RETRY_DELAY_S = "jobqueue.retry.delay_s"
DEAD_REASON = "jobqueue.dead_letter.reason"

SYSTEM = "jobqueue"
