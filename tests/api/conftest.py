"""Fixtures for the API tests: a real SQLite broker in tmp_path and an in-process client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.api.app import create_app
from jobqueue.api.settings import ApiSettings
from jobqueue.brokers import Broker, Death, Delivery, from_url
from jobqueue.job import Job
from tests.brokers.rabbit import rabbitmq_broker, rabbitmq_broker_factory

__all__ = ["rabbitmq_broker", "rabbitmq_broker_factory"]

JSON = {"Content-Type": "application/json"}
SETTLE_TIMEOUT_S = 10.0


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    """A connected SQLite broker in a fresh file."""
    broker = from_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")
    await broker.connect()
    yield broker
    await broker.close()


@pytest.fixture
def settings() -> ApiSettings:
    """API settings for the tests; override the fixture to change a limit."""
    return ApiSettings()


@pytest.fixture
def app(broker: Broker, settings: ApiSettings) -> FastAPI:
    """The app over the test broker."""
    return create_app(broker, settings=settings)


def asgi_client(app: FastAPI, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    """An in-process client for ``app`` (no lifespan: the broker is connected already)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://jobqueue.test")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for the app over the SQLite broker."""
    async with asgi_client(app) as client:
        yield client


async def take_deliveries(broker: Broker, count: int) -> list[Delivery]:
    """The next ``count`` deliveries, unsettled; consuming stops once they are in hand."""
    deliveries: list[Delivery] = []
    stream = aiter(broker.deliveries(prefetch=count))
    async with asyncio.timeout(SETTLE_TIMEOUT_S):
        while len(deliveries) < count:
            deliveries.append(await anext(stream))
        await broker.stop_consuming()
        async for extra in stream:  # the stream ends after stop_consuming
            await broker.release(extra)
    return deliveries


async def queued_jobs(broker: Broker, count: int) -> list[Job]:
    """Consume ``count`` jobs from the queue (acking them) and decode them."""
    deliveries = await take_deliveries(broker, count)
    for delivery in deliveries:
        await broker.ack(delivery)
    return [Job.decode(delivery.body) for delivery in deliveries]


async def make_dead(
    broker: Broker, jobs: list[Job], death: Callable[[Job], Death] | None = None
) -> list[str]:
    """Publish ``jobs`` and dead-letter each; returns their message ids in order."""
    await broker.publish(jobs)
    deliveries = await take_deliveries(broker, len(jobs))
    for delivery in deliveries:
        job = next(job for job in jobs if job.id == delivery.message_id)
        reason = death(job) if death else Death(reason="max_attempts", error="boom", attempts=3)
        await broker.dead_letter(delivery, reason)
    return [delivery.message_id for delivery in deliveries]
