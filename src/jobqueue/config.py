"""Configuration names and defaults: every setting is a JOBQUEUE_* variable and a flag."""

from __future__ import annotations

import os

from jobqueue.errors import ConfigError

ENV_PREFIX = "JOBQUEUE_"

BROKER_URL = "sqlite:///jobqueue.db"
QUEUE = "jobs"
QUEUE_TYPE = "classic"  # or "quorum" (RabbitMQ)
PRIORITIES = 0  # RabbitMQ: the jobs queue's x-max-priority (10 for priorities 0-9); 0: off
HTTP_ADDR = "127.0.0.1:8080"
GRPC_ADDR = "127.0.0.1:50051"
API_GRPC = "127.0.0.1:50051"
CONCURRENCY = 8
MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH = 1000
MAX_IN_FLIGHT = 256
MAX_CONNECTIONS = 2048
HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 30.0
RETRY_BASE_S = 1.0
RETRY_CAP_S = 300.0
SHUTDOWN_GRACE_S = 30.0
HEARTBEAT_INTERVAL_S = 5.0
WORKER_TTL_S = 15.0
REGISTRY_SWEEP_S = 5.0
MAX_WORKERS = 10_000
LOG_LEVEL = "INFO"
MAX_RESULT_BYTES = 64 * 1024
RETENTION_S = 7 * 24 * 3600.0
PURGE_INTERVAL_S = 600.0
API_URL = "http://127.0.0.1:8080"


def env(name: str) -> str:
    """The variable for a setting: ``env("broker_url")`` is ``JOBQUEUE_BROKER_URL``."""
    return ENV_PREFIX + name.upper()


def parse_addr(addr: str, setting: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:port`` for IPv6); a bad one is a ConfigError."""
    host, sep, port_text = addr.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{setting} must be host:port, got {addr!r}")
    return host.strip("[]") or "127.0.0.1", int(port_text)


def priorities(text: str) -> int:
    """``JOBQUEUE_PRIORITIES`` read: 0 (off) to 255; anything else is a ConfigError."""
    value = text.strip() or "0"
    if not value.isdigit() or not 0 <= int(value) <= 255:
        raise ConfigError(f"{env('priorities')} must be 0 (off) to 255, got {text!r}")
    return int(value)


def env_or(name: str, default: str) -> str:
    """The value of ``JOBQUEUE_<NAME>`` or the default."""
    return os.environ.get(env(name), default)
