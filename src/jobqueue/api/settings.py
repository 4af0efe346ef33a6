"""The settings of the API process, with defaults from :mod:`jobqueue.config`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

from jobqueue import config
from jobqueue.errors import ConfigError

N = TypeVar("N", int, float)


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Everything ``jobqueue api`` can be told; each field is a ``JOBQUEUE_*`` variable."""

    broker_url: str = config.BROKER_URL
    queue: str = config.QUEUE
    http_addr: str = config.HTTP_ADDR
    grpc_addr: str = config.GRPC_ADDR
    max_body_bytes: int = config.MAX_BODY_BYTES
    max_batch: int = config.MAX_BATCH
    log_level: str = config.LOG_LEVEL
    registry_url: str | None = None
    store_url: str | None = None
    worker_ttl_s: float = config.WORKER_TTL_S
    registry_sweep_s: float = config.REGISTRY_SWEEP_S
    shutdown_grace_s: float = config.SHUTDOWN_GRACE_S

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes must be at least 1, got {self.max_body_bytes}")
        if self.max_batch < 1:
            raise ConfigError(f"max_batch must be at least 1, got {self.max_batch}")
        config.parse_addr(self.http_addr, config.env("http_addr"))

    @classmethod
    def from_env(cls) -> ApiSettings:
        """Settings from the ``JOBQUEUE_*`` environment, defaults where a variable is unset."""
        defaults = cls()
        return cls(
            broker_url=config.env_or("broker_url", defaults.broker_url),
            queue=config.env_or("queue", defaults.queue),
            http_addr=config.env_or("http_addr", defaults.http_addr),
            grpc_addr=config.env_or("grpc_addr", defaults.grpc_addr),
            max_body_bytes=_env_number("max_body_bytes", defaults.max_body_bytes, int),
            max_batch=_env_number("max_batch", defaults.max_batch, int),
            log_level=config.env_or("log_level", defaults.log_level),
            registry_url=os.environ.get(config.env("registry_url")) or None,
            store_url=os.environ.get(config.env("store_url")) or None,
            worker_ttl_s=_env_number("worker_ttl_s", defaults.worker_ttl_s, float),
            registry_sweep_s=_env_number("registry_sweep_s", defaults.registry_sweep_s, float),
            shutdown_grace_s=_env_number("shutdown_grace_s", defaults.shutdown_grace_s, float),
        )


def _env_number(name: str, default: N, kind: type[N]) -> N:
    text = os.environ.get(config.env(name))
    if text is None or not text.strip():
        return default
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{config.env(name)} must be a number, got {text!r}") from None
