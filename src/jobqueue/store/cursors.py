"""Opaque page cursors: a time and an id, the position just after which the next page starts."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from jobqueue import codec
from jobqueue.errors import InvalidCursor
from jobqueue.store import events as ev


def encode(at: datetime, key: str) -> str:
    """The cursor of the position ``(at, key)``."""
    raw = codec.dumps([ev.to_iso(at), key])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str) -> tuple[datetime, str]:
    """The ``(at, key)`` a cursor holds; InvalidCursor when it was not made by :func:`encode`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, key = codec.loads(raw)
        if not isinstance(at, str) or not isinstance(key, str):
            raise ValueError(cursor)
        return ev.parse_time(at), key
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursor(f"cursor {cursor[:40]!r} is not valid") from None
