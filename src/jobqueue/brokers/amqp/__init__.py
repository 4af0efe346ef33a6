"""The RabbitMQ backend's parts: connection, link, publisher, consumer, topology, dead letters.

Internal to :mod:`jobqueue.brokers.rabbitmq`; the untyped pika surface stays inside this package.
"""
