"""The settings of the API process, with defaults from :mod:`jobqueue.config`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobqueue import config
from jobqueue.api.load import LoadSettings
from jobqueue.auth.settings import AuthSettings
from jobqueue.errors import ConfigError
from jobqueue.metrics.settings import MetricsSettings
from jobqueue.scaling.settings import ScalingSettings

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

OUTAGE_LOG_INTERVAL_S = 30.0


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Everything ``jobqueue api`` can be told; each field is a ``JOBQUEUE_*`` variable."""

    broker_url: str = config.BROKER_URL
    queue: str = config.QUEUE
    queue_type: str = config.QUEUE_TYPE
    priorities: int = config.PRIORITIES  # RabbitMQ's x-max-priority of the queue; 0: off
    http_addr: str = config.HTTP_ADDR
    grpc_addr: str = config.GRPC_ADDR
    max_body_bytes: int = config.MAX_BODY_BYTES
    max_batch: int = config.MAX_BATCH
    log_level: str = config.LOG_LEVEL
    registry_url: str | None = None
    store_url: str | None = None
    tls_cert: str | None = None  # with tls_key: HTTPS and gRPC over TLS
    tls_key: str | None = None
    tls_client_ca: str | None = None  # gRPC then requires client certificates it signed
    worker_ttl_s: float = config.WORKER_TTL_S
    max_workers: int = config.MAX_WORKERS
    registry_sweep_s: float = config.REGISTRY_SWEEP_S
    shutdown_grace_s: float = config.SHUTDOWN_GRACE_S
    retention_s: float = config.RETENTION_S
    purge_interval_s: float = config.PURGE_INTERVAL_S
    wait_for_broker_s: float | None = None  # None: start at once, connecting in the background
    outage_log_interval_s: float = OUTAGE_LOG_INTERVAL_S
    # Traces of submissions (see jobqueue.telemetry); None: tracing off, from OTEL_* at start.
    tracer_provider: TracerProvider | None = field(default=None, compare=False)
    unserved_types: str = "warn"  # or "reject": a job type no live worker serves is a 422
    load: LoadSettings = field(default_factory=LoadSettings)  # request and connection caps
    auth: AuthSettings = field(default_factory=AuthSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    app: str | None = None  # pkg.module:handlers whose declared cron schedules are upserted
    scaling: ScalingSettings = field(default_factory=ScalingSettings)  # GET /scaling, the gauge

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes must be at least 1, got {self.max_body_bytes}")
        if self.max_batch < 1:
            raise ConfigError(f"max_batch must be at least 1, got {self.max_batch}")
        if self.max_workers < 1:
            raise ConfigError(f"max_workers must be at least 1, got {self.max_workers}")
        config.parse_addr(self.http_addr, config.env("http_addr"))
        config.parse_addr(self.grpc_addr, config.env("grpc_addr"))
        if self.retention_s <= 0:
            raise ConfigError(f"retention must be positive, got {self.retention_s}s")
        if self.purge_interval_s <= 0:
            raise ConfigError(f"purge interval must be positive, got {self.purge_interval_s}s")
        if self.wait_for_broker_s is not None and self.wait_for_broker_s < 0:
            raise ConfigError(
                f"the wait for the broker cannot be negative, got {self.wait_for_broker_s:g}s"
            )
        if self.unserved_types not in ("warn", "reject"):
            raise ConfigError(
                f"unserved_types must be 'warn' or 'reject', got {self.unserved_types!r}"
            )
        if self.outage_log_interval_s <= 0:
            raise ConfigError(
                f"outage log interval must be positive, got {self.outage_log_interval_s:g}s"
            )
