"""The four scopes, and which one each HTTP request needs."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from jobqueue.errors import ConfigError


class Scope(enum.StrEnum):
    """What a token may do. ``admin`` includes ``read``: whoever may act may look."""

    SUBMIT = "submit"  # POST /jobs, POST /jobs/batch
    READ = "read"  # GET jobs, events, dead letters, workers
    ADMIN = "admin"  # cancel, replay, purge, pause/resume/drain, the audit log
    WORKER = "worker"  # the gRPC WorkerService


IMPLIED: dict[Scope, frozenset[Scope]] = {Scope.ADMIN: frozenset({Scope.READ})}

OPEN_PATHS = frozenset(
    {"/healthz", "/", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
    | {"/ui/login", "/ui/logout"}
)
"""Answered to anyone: liveness, the API's own documentation (which holds no data), and the
dashboard's login and logout."""
OPEN_PREFIXES = ("/static/", "/ui/static/")
PROBE_PATHS = frozenset({"/readyz", "/metrics"})
"""Open too when the deployment says so (``open_probes``), for probes and scrapers without a
token; else they need ``read``."""
SUBMIT_PATHS = frozenset({"/jobs", "/jobs/batch"})
ADMIN_READS = ("/audit",)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_scopes(text: str | Iterable[str]) -> frozenset[Scope]:
    """Scopes from ``"submit,read"`` (or a list of names); ``ConfigError`` naming an unknown one."""
    names = text.split(",") if isinstance(text, str) else list(text)
    scopes: set[Scope] = set()
    for name in (raw.strip().lower() for raw in names):
        if not name:
            continue
        try:
            scopes.add(Scope(name))
        except ValueError:
            known = ", ".join(scope.value for scope in Scope)
            raise ConfigError(f"unknown scope {name!r} (the scopes: {known})") from None
    if not scopes:
        raise ConfigError("a token needs at least one scope (submit, read, admin, worker)")
    return frozenset(scopes)


def grants(scopes: frozenset[str], needed: Scope) -> bool:
    """Whether a token holding ``scopes`` may do what needs ``needed``."""
    if needed in scopes:
        return True
    known = {scope.value for scope in Scope}
    return any(needed in IMPLIED.get(Scope(held), ()) for held in scopes if held in known)


def needed_scope(method: str, path: str, open_probes: bool = False) -> Scope | None:
    """The scope an HTTP request needs, or None for an open one.

    POST to the submit paths needs ``submit``; reading anything else needs ``read`` (the
    audit log ``admin``); every other method (cancel, replay, purge, commands) ``admin``. A
    path not listed anywhere still needs a scope, so a route added later is never open by
    mistake.
    """
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None
    if path in PROBE_PATHS and open_probes:
        return None
    if method == "POST" and path in SUBMIT_PATHS:
        return Scope.SUBMIT
    if method in _READ_METHODS:
        return Scope.ADMIN if path.startswith(ADMIN_READS) else Scope.READ
    return Scope.ADMIN
