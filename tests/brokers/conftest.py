"""Fixtures for the broker tests: the RabbitMQ ones come from ``tests.brokers.rabbit``."""

from __future__ import annotations

from tests.brokers.rabbit import (
    private_rabbitmq,
    rabbitmq_broker,
    rabbitmq_broker_factory,
    rabbitmq_vhost,
)

__all__ = ["private_rabbitmq", "rabbitmq_broker", "rabbitmq_broker_factory", "rabbitmq_vhost"]
