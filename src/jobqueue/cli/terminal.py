"""What clients and workers sent, made safe for a terminal: escaped controls, escaped JSON."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

# Cc: C0 and C1 controls (ESC starts every ANSI sequence, C1's CSI is one on its own), DEL.
# Cf: invisible formatting such as bidi overrides, which reorder what follows on the line.
# Zl, Zp: line and paragraph separators, which some terminals treat as new lines.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _json_escape(char: str) -> str:
    """A JSON escape: ``\\uXXXX``, a surrogate pair past the Basic Multilingual Plane."""
    units = char.encode("utf-16-be")
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))


def _is_unsafe(char: str) -> bool:
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


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
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    if text.isprintable():
        return text
    return "".join(_json_escape(c) if c != "\n" and _is_unsafe(c) else c for c in text)
