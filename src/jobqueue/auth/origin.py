"""Requests a browser made on behalf of another site: refused when they would change anything.

A page of any site can make its visitor's browser send a "simple" request (a form's POST) to
an API it can reach, the loopback one included, whether or not that API asks for a token. The
browser says where such a request comes from in ``Sec-Fetch-Site``; the dashboard's own
requests are ``same-origin``, and clients that are not browsers send none.
"""

from __future__ import annotations

from starlette.types import Scope

_FETCH_SITE = b"sec-fetch-site"
_FOREIGN = frozenset({b"cross-site", b"same-site"})
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def foreign_change(scope: Scope) -> bool:
    """Whether the request would change state and a browser sent it for another site."""
    if scope["method"] in _READS:
        return False
    for name, value in scope["headers"]:
        if name == _FETCH_SITE:
            return value.strip().lower() in _FOREIGN
    return False
