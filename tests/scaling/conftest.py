"""The metered API in process (SQLite broker and store, a worker registry, the events
consumer), as the metrics' tests build it, and a broker on the real RabbitMQ."""

from tests.brokers.rabbit import rabbitmq_broker, rabbitmq_broker_factory
from tests.metrics.conftest import metered, metrics_settings

__all__ = ["metered", "metrics_settings", "rabbitmq_broker", "rabbitmq_broker_factory"]
