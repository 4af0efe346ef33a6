"""The ``Allow`` header of a 405: every method the request's path is served by, not one route's.

Starlette answers a wrong method with the methods of the first route whose path matched, so
``OPTIONS /jobs`` said ``Allow: POST`` though ``GET /jobs`` is served too. Here every route
whose path matches counts, but for routes that exist only to refuse methods (see
:func:`refuses_methods`); and when a path matches a route without parameters
(``/jobs/batch``), routes with parameters (``/jobs/{job_id}``) do not count for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route

__all__ = ["allowed_methods", "refuses_methods"]

_F = TypeVar("_F", bound=Callable[..., Any])
_REFUSERS: set[Callable[..., Any]] = set()


def refuses_methods(endpoint: _F) -> _F:
    """Mark ``endpoint`` as one that only answers 405: its route's methods are not served."""
    _REFUSERS.add(endpoint)
    return endpoint


def allowed_methods(request: Request) -> str | None:
    """The methods served on the request's path, sorted and joined; None when no route's
    path matches."""
    routes = _serving(request.app.router.routes, request)
    static = [route for route in routes if not route.param_convertors]
    methods = {method for route in static or routes for method in route.methods or ()}
    return ", ".join(sorted(methods)) if methods else None


def _serving(routes: Iterable[BaseRoute], request: Request) -> list[Route]:
    """The routes (not refusers) whose path matches, whatever the method."""
    matching = []
    for route in _leaves(routes):
        if not isinstance(route, Route) or route.endpoint in _REFUSERS:
            continue
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            matching.append(route)
    return matching


def _leaves(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes themselves: FastAPI keeps an included router's routes inside a wrapper (the
    app includes every router without a prefix of its own, so their paths are whole)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is None:
            yield route
        else:
            yield from _leaves(inner.routes)
