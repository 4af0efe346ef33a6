"""JSON encoding that keeps numbers exact: integers of any size, floats as submitted."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
"""One decoder for every call: ``json.loads`` with options builds a new one each time."""


def loads(data: bytes | str) -> Any:
    """Parse JSON exactly: big integers stay integers; NaN, Infinity and overflow are refused.

    orjson is not used here because it silently turns integers beyond 64 bits into floats.
    """
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
