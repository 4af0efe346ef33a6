"""Traces and structured logs: OpenTelemetry spans along a job's path, JSON log lines.

Tracing is off unless the standard ``OTEL_*`` variables ask for it (:mod:`.setup`) or the
process already has a tracer provider; when it is off, nothing here is on the job path. The
API's spans (submit, publish) and the worker's (run, settle) are in :mod:`.spans`; the trace
context travels in the job's message headers (:mod:`.propagation`). ``JOBQUEUE_LOG_FORMAT=json``
writes one JSON object per log line (:mod:`.jsonlog`), with the fields of the job at hand
(:mod:`.jobfields`).
"""

from __future__ import annotations
