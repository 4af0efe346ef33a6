"""The raw client ceilings: a bare pika publisher (pipelined confirms) and a bare pika consumer.

    python -m benchmarks.bare publish AMQP_URL QUEUE --count 20000
    python -m benchmarks.bare consume AMQP_URL QUEUE --count 20000 --prefetch 8

Each runs in its own process on pika's ``SelectConnection`` (the fastest Python AMQP client
measured on this machine) and prints one JSON object: messages, seconds, messages per second.
The publisher sends persistent 200-byte messages to a durable queue, keeping up to
``--window`` unconfirmed; it times the first publish to the last confirm. The consumer acks
each message by hand (one basic.ack per message, as the worker does) with the worker's
prefetch; it times the first delivery to the last. Nothing here is jobqueue's code: these are
what the client library alone can do on the same RabbitMQ, for the ratios beside our figures.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import pika
import pika.spec

BODY_BYTES = 200
DEFAULT_WINDOW = 1000


@dataclass
class BareResult:
    """What one bare client did: how many messages, over how long."""

    role: str
    messages: int
    elapsed_s: float
    rate_per_s: float
    cpu_us_per_message: float


class _Client:
    """Opens a SelectConnection and a channel, declares the durable queue, then ``start``s."""

    def __init__(self, url: str, queue: str, count: int) -> None:
        self.queue, self.count = queue, count
        self.done = 0
        self.first_s = self.last_s = 0.0
        self.first_cpu_s = self.last_cpu_s = 0.0
        self.channel: Any = None
        self.error: str | None = None
        self.conn = pika.SelectConnection(
            pika.URLParameters(url),
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_open_error_callback=self._on_error,
            on_close_callback=self._on_closed,
        )

    def mark_first(self) -> None:
        """The clock starts: wall and CPU time now."""
        self.first_s, self.first_cpu_s = time.perf_counter(), time.process_time()

    def mark_last(self) -> None:
        """The clock stops."""
        self.last_s, self.last_cpu_s = time.perf_counter(), time.process_time()

    def cpu_us_per_message(self) -> float:
        """Process CPU time between the marks, per message, in microseconds."""
        return round(1e6 * (self.last_cpu_s - self.first_cpu_s) / max(1, self.count), 1)

    def run(self) -> float:
        """Run the I/O loop until finished; the elapsed seconds."""
        try:
            self.conn.ioloop.start()
        finally:
            self.conn.ioloop.close()
        if self.error is not None:
            raise RuntimeError(self.error)
        return self.last_s - self.first_s

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.queue_declare(self.queue, durable=True, callback=lambda _frame: self.start())

    def start(self) -> None:
        """Begin the work once the queue is declared."""
        raise NotImplementedError

    def finish(self) -> None:
        """Close the connection; the I/O loop stops once it is closed."""
        self.conn.close()

    def _on_error(self, _conn: Any, exc: BaseException) -> None:
        self.error = f"cannot connect: {exc}"
        self.conn.ioloop.stop()

    def _on_closed(self, _conn: Any, exc: BaseException) -> None:
        if self.done < self.count and self.error is None:
            self.error = f"connection closed early: {exc}"
        self.conn.ioloop.stop()


class BarePublisher(_Client):
    """Publishes ``count`` persistent messages with at most ``window`` unconfirmed."""

    def __init__(self, url: str, queue: str, count: int, window: int) -> None:
        super().__init__(url, queue, count)
        self.window = window
        self.sent = 0
        self.body = b"x" * BODY_BYTES
        self.props = pika.BasicProperties(
            content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent
        )

    def start(self) -> None:
        """Confirm mode, then the first window of publishes."""
        self.channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._fill())
        self.mark_first()

    def _fill(self) -> None:
        publish, queue, body, props = self.channel.basic_publish, self.queue, self.body, self.props
        while self.sent < self.count and self.sent - self.done < self.window:
            publish("", queue, body, props)
            self.sent += 1

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        if not isinstance(method, pika.spec.Basic.Ack):
            self.error = "the broker nacked a publish"
            self.finish()
            return
        self.done = method.delivery_tag if method.multiple else self.done + 1
        if self.done >= self.count:
            self.mark_last()
            self.finish()
        else:
            self._fill()


class BareConsumer(_Client):
    """Consumes ``count`` messages with ``prefetch``, acking each one by hand."""

    def __init__(self, url: str, queue: str, count: int, prefetch: int) -> None:
        super().__init__(url, queue, count)
        self.prefetch = prefetch

    def start(self) -> None:
        """basic.qos, then basic.consume."""
        self.channel.basic_qos(prefetch_count=self.prefetch, callback=lambda _f: self._consume())

    def _consume(self) -> None:
        self.channel.basic_consume(self.queue, self._on_message)

    def _on_message(self, channel: Any, method: Any, _props: Any, _body: bytes) -> None:
        if self.done == 0:
            self.mark_first()
        channel.basic_ack(method.delivery_tag)
        self.done += 1
        if self.done >= self.count:
            self.mark_last()
            self.finish()


def publish(url: str, queue: str, count: int, window: int = DEFAULT_WINDOW) -> BareResult:
    """Publish ``count`` messages to ``queue`` with pipelined confirms; the rate."""
    client = BarePublisher(url, queue, count, window)
    elapsed_s = client.run()
    rate = round(count / elapsed_s, 1)
    return BareResult("publish", count, round(elapsed_s, 4), rate, client.cpu_us_per_message())


def consume(url: str, queue: str, count: int, prefetch: int) -> BareResult:
    """Consume and ack ``count`` messages from ``queue``; the rate, first to last delivery."""
    client = BareConsumer(url, queue, count, prefetch)
    elapsed_s = client.run()
    rate = round((count - 1) / elapsed_s if elapsed_s > 0 else 0.0, 1)
    return BareResult("consume", count, round(elapsed_s, 4), rate, client.cpu_us_per_message())


def main() -> None:
    """Run one bare client and print its result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["publish", "consume"])
    parser.add_argument("url")
    parser.add_argument("queue")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--prefetch", type=int, default=8)
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW)
    args = parser.parse_args()
    if args.role == "publish":
        result = publish(args.url, args.queue, args.count, args.window)
    else:
        result = consume(args.url, args.queue, args.count, args.prefetch)
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
