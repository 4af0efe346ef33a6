"""Error fingerprints: a dead job's error with its variable parts masked, and a short digest.

Two deaths share a fingerprint when their job type, exception type and masked message are the
same: ``KeyError: 'user 42'`` and ``KeyError: 'user 97'`` are one group; ``ValueError: ...``
with the same text is another.
"""

from __future__ import annotations

import hashlib
import re

from jobqueue.brokers import Death

FINGERPRINT_HEX = 12
"""Hex digits of SHA-256 kept: 48 bits, so a collision among a few thousand groups is unlikely."""
MESSAGE_MAX_CHARS = 500
"""A masked message is cut here: the start of an error names it, its tail is usually data."""

_QUOTED = re.compile(r"""(?<!\w)(?:'[^'\n]*'|"[^"\n]*")(?!\w)""")
_UUID = re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_PREFIXED_HEX = re.compile(r"(?i)\b0x[0-9a-f]+\b")
_LONG_HEX = re.compile(r"(?i)\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_TYPE_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_RAISED = re.compile(rf"^({_TYPE_NAME})(?::\s|:?$)")  # a traceback's last line
_DESCRIBED = re.compile(rf"^({_TYPE_NAME}):(?:\s|$)")  # ``Type: message``


def masked_message(message: str) -> str:
    """``message``'s first line with quoted values, UUIDs, hex ids and numbers replaced by
    ``'<v>'`` (or ``"<v>"``), ``<id>`` and ``<n>``; at most :data:`MESSAGE_MAX_CHARS`."""
    line = next((part.strip() for part in message.splitlines() if part.strip()), "")
    line = _QUOTED.sub(lambda match: f"{match.group(0)[0]}<v>{match.group(0)[0]}", line)
    line = _UUID.sub("<id>", line)
    line = _PREFIXED_HEX.sub("<id>", line)
    line = _LONG_HEX.sub("<id>", line)
    return _NUMBER.sub("<n>", line)[:MESSAGE_MAX_CHARS]


def fingerprint(job_type: str, error_type: str, message: str) -> str:
    """A short, stable hex digest of the job type, the exception type and the masked message."""
    key = "\x1f".join((job_type, error_type, masked_message(message)))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:FINGERPRINT_HEX]


def error_type(death: Death) -> str:
    """The exception's type name: the last line of the traceback (``ValueError: ...``), else
    the error's ``Type: message`` prefix (how workers describe an exception), else the
    death's reason (``unknown_type``, ``undecodable``, ``redelivery_limit``, ...)."""
    for line in reversed((death.traceback or "").splitlines()):
        if line.strip():
            match = _RAISED.match(line.strip())
            if match is not None and not line.startswith((" ", "\t")):
                return match.group(1)
            break
    match = _DESCRIBED.match(death.error or "")
    if match is not None:
        return match.group(1)
    return death.reason


def error_message(death: Death, type_name: str) -> str:
    """The error without its ``Type: `` prefix (the type is a fingerprint part of its own)."""
    error = death.error or ""
    prefix = f"{type_name}:"
    return error[len(prefix) :].strip() if error.startswith(prefix) else error
