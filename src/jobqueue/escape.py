"""Control characters made visible: what a terminal or a log line shows instead of obeying them."""

from __future__ import annotations

import unicodedata

__all__ = ["escape_char", "escape_controls", "escape_json_controls", "is_unsafe"]

# Cc: C0 and C1 controls (ESC starts every ANSI sequence, C1's CSI is one on its own), DEL.
# Cf: invisible formatting such as bidi overrides, which reorder what follows on the line.
# Zl, Zp: line and paragraph separators, which some terminals treat as new lines.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_unsafe(char: str) -> bool:
    """Whether a terminal would act on ``char`` rather than show it."""
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def escape_char(char: str) -> str:
    r"""``char`` as an escape: ``\x1b``, ``\u202e``, ``\U000e0001``."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_controls(text: str) -> str:
    r"""``text`` on one line: newlines, returns and tabs as ``\n``, ``\r``, ``\t``, every other
    unsafe character as :func:`escape_char` writes it."""
    if text.isprintable():
        return text
    return "".join(
        _SHORT_ESCAPES.get(char) or (escape_char(char) if is_unsafe(char) else char)
        for char in text
    )


def escape_json_controls(text: str) -> str:
    r"""JSON text with every unsafe character written as a JSON escape (``\u202e``, a
    surrogate pair past the Basic Multilingual Plane). ``json`` escapes U+0000 to U+001F itself;
    DEL, C1 controls and formatting characters it leaves raw. Outside strings JSON holds only
    ASCII (and the newlines of an indent, kept), so the document stays valid, its value the same.
    """
    if text.isprintable():
        return text
    return "".join(_json_escape(c) if c != "\n" and is_unsafe(c) else c for c in text)


def _json_escape(char: str) -> str:
    units = char.encode("utf-16-be")
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
