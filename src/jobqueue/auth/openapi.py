"""The OpenAPI schema says which operations need a bearer token and which scope, as the gate
enforces it right now (so generated clients and schema fuzzers send the token)."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI

from jobqueue.auth.book import TokenBook
from jobqueue.auth.scopes import needed_scope

SCHEME = "bearerToken"
_REFUSALS = {
    "401": {"description": "No API token, or one that is not valid (see WWW-Authenticate)."},
    "403": {"description": "The token lacks the scope this operation needs."},
}


def declare_security(app: FastAPI, book: TokenBook, open_probes: bool) -> None:
    """Make ``app.openapi()`` declare the bearer scheme on every gated operation while
    tokens are required, and none while the API is open."""
    plain = app.openapi
    cache: dict[bool, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        required = book.required
        if required not in cache:
            schema = plain()
            cache[required] = _secured(schema, open_probes) if required else schema
        app.openapi_schema = cache[required]
        return cache[required]

    app.openapi = openapi  # type: ignore[method-assign]


def _secured(schema: dict[str, Any], open_probes: bool) -> dict[str, Any]:
    secured = copy.deepcopy(schema)
    schemes = secured.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: jobqueue token create NAME --scope submit,read,...",
    }
    for path, operations in secured.get("paths", {}).items():
        for method, operation in operations.items():
            scope = needed_scope(method.upper(), _concrete(path), open_probes)
            if scope is None:
                continue
            operation["security"] = [{SCHEME: []}]
            operation["description"] = (
                f"{operation.get('description', '')}\n\nNeeds a token with the "
                f"`{scope.value}` scope."
            ).strip()
            operation.setdefault("responses", {}).update(copy.deepcopy(_REFUSALS))
    return secured


def _concrete(path: str) -> str:
    """A templated path with its parameters filled, as the gate would see a request."""
    return "/".join("x" if part.startswith("{") else part for part in path.split("/"))
