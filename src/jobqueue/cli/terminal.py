"""What clients and workers sent, made safe for a terminal: escaped controls, escaped JSON."""

from __future__ import annotations

import json
from typing import Any

from jobqueue.escape import escape_char as _escape
from jobqueue.escape import escape_json_controls
from jobqueue.escape import is_unsafe as _is_unsafe


def printable(text: str, keep_newlines: bool = False) -> str:
    r"""``text`` with every control character written as an escape (``\x1b``, ``\u202e``).

    Rich markup is not touched: show the result as ``rich.text.Text``, never as markup.
    """
    if text.isprintable() and not keep_newlines:
        return text
    lines = text.split("\n") if keep_newlines else [text]
    return "\n".join(
        "".join(_escape(char) if _is_unsafe(char) else char for char in line) for line in lines
    )


def first_line(text: str | None) -> str:
    """The first line of a free text (an error and its traceback), escaped; '' for none."""
    lines = (text or "").strip().splitlines()
    return printable(lines[0]) if lines else ""


def to_json(value: Any, indent: int | None = None) -> str:
    """``value`` as JSON, non-ASCII kept readable but every control character escaped.

    ``json`` escapes U+0000 to U+001F itself; DEL, C1 controls and formatting characters it
    leaves raw. Outside strings JSON holds only ASCII and the newlines of ``indent``, so
    escaping the rest keeps the document valid and its value the same.
    """
    return escape_json_controls(json.dumps(value, indent=indent, ensure_ascii=False))
