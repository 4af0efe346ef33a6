"""The publisher's own framing of basic.publish: byte for byte what pika would have sent."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pika.frame
import pika.spec
import pytest

from jobqueue.brokers.amqp.publisher import Outgoing, Publisher
from jobqueue.brokers.amqp.topology import properties

BODY_MAX_BYTES = 100  # a frame_max this small splits a body over several frames


def _pika_frames(channel_number: int, message: Outgoing, body_max: int) -> bytes:
    """What pika's ``Channel.basic_publish(..., mandatory=True)`` writes, from its own classes."""
    publish = pika.spec.Basic.Publish(
        exchange=message.exchange, routing_key=message.routing_key, mandatory=True
    )
    frames = [
        pika.frame.Method(channel_number, publish).marshal(),
        pika.frame.Header(channel_number, len(message.body), message.properties).marshal(),
    ]
    for chunk in range(math.ceil(len(message.body) / body_max)):
        fragment = message.body[chunk * body_max : (chunk + 1) * body_max]
        frames.append(pika.frame.Body(channel_number, fragment).marshal())
    return b"".join(frames)


@pytest.mark.parametrize(
    "message",
    [
        Outgoing("", "jobs", b'{"id":"a"}', properties("a"), "a"),
        Outgoing("", "jobs", b"x" * 250, properties("b"), "b"),  # three body frames
        Outgoing("", "jobs", b"", properties("c"), "c"),  # no body frame at all
        Outgoing("jobs.dlx", "jobs.dlq", b"{}", properties("d", {"x-n": 3, "r": "é"}), "d"),
    ],
)
def test_frames_equal_pikas(message: Outgoing) -> None:
    publisher = Publisher(SimpleNamespace())  # type: ignore[arg-type]
    connection = SimpleNamespace(_body_max_length=BODY_MAX_BYTES)

    for _ in range(2):  # the second time from the cached basic.publish frame
        sent = publisher._frames(7, connection, message)

        assert sent == _pika_frames(7, message, BODY_MAX_BYTES)
