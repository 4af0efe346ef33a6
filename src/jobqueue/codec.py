"""JSON encoding that keeps numbers exact: integers of any size, floats as submitted."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

LONG_DIGITS = 19
"""Integers of fewer digits always fit orjson's 64 bits; some of 19 (below -2**63) do not."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
"""One decoder for every call: ``json.loads`` with options builds a new one each time."""


_ONLY_DIGITS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
"""A ``bytes.translate`` table: every digit to ``0``, anything else to a space."""
_LONG_RUN = b"0" * LONG_DIGITS


def loads(data: bytes | str) -> Any:
    """Parse JSON exactly: big integers stay integers; NaN, Infinity and overflow are refused.

    orjson parses what it parses exactly (and several times faster), but it silently turns
    integers beyond 64 bits into floats: a document with a run of 19 digits or more, and one
    orjson refuses (whose error the standard parser then words), goes to the standard parser.
    """
    if isinstance(data, bytes) and _LONG_RUN not in data.translate(_ONLY_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return _strict_loads(data)


def _strict_loads(data: bytes | str) -> Any:
    try:
        text = (
            data.decode(json.detect_encoding(data), "surrogatepass")
            if isinstance(data, bytes)
            else data
        )
        if text.startswith("\ufeff"):  # refused, with json.loads' own message
            return json.loads(text)
        return _DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON is nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not valid UTF-8: {exc.reason}") from None


def dumps(value: Any) -> bytes:
    """Serialise to compact UTF-8 JSON; integers beyond 64 bits are written exactly."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
