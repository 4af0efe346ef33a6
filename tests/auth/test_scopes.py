"""Which scope each request needs, what each scope grants, and how tokens are made and checked."""

from __future__ import annotations

import pytest

from jobqueue.auth import hashing
from jobqueue.auth.book import TokenBook
from jobqueue.auth.scopes import Scope, grants, needed_scope, parse_scopes
from jobqueue.errors import ConfigError


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "/healthz", None),
        ("GET", "/docs", None),
        ("GET", "/openapi.json", None),
        ("GET", "/static/vendor/swagger-ui/swagger-ui.css", None),
        ("GET", "/readyz", Scope.READ),
        ("GET", "/metrics", Scope.READ),
        ("POST", "/jobs", Scope.SUBMIT),
        ("POST", "/jobs/batch", Scope.SUBMIT),
        ("GET", "/jobs", Scope.READ),
        ("GET", "/jobs/abc/events", Scope.READ),
        ("GET", "/dlq", Scope.READ),
        ("GET", "/workers", Scope.READ),
        ("GET", "/audit", Scope.ADMIN),
        ("DELETE", "/jobs/abc", Scope.ADMIN),
        ("DELETE", "/dlq", Scope.ADMIN),
        ("POST", "/dlq/replay", Scope.ADMIN),
        ("POST", "/workers/w/drain", Scope.ADMIN),
        ("PUT", "/jobs", Scope.ADMIN),
        ("POST", "/a-route-added-later", Scope.ADMIN),
        ("GET", "/a-route-added-later", Scope.READ),
    ],
)
def test_each_request_needs_its_scope(method: str, path: str, needed: Scope | None) -> None:
    assert needed_scope(method, path) is needed


def test_open_probes_open_readyz_and_metrics_only() -> None:
    assert needed_scope("GET", "/readyz", open_probes=True) is None
    assert needed_scope("GET", "/metrics", open_probes=True) is None
    assert needed_scope("GET", "/jobs", open_probes=True) is Scope.READ


def test_admin_includes_read_and_nothing_else_is_implied() -> None:
    assert grants(frozenset({"admin"}), Scope.READ)
    assert not grants(frozenset({"admin"}), Scope.SUBMIT)
    assert not grants(frozenset({"read"}), Scope.ADMIN)
    assert not grants(frozenset({"submit", "worker"}), Scope.READ)


def test_scopes_parse_and_an_unknown_one_is_named() -> None:
    assert parse_scopes(" Submit, read ") == {Scope.SUBMIT, Scope.READ}
    with pytest.raises(ConfigError, match="unknown scope 'root'"):
        parse_scopes("read,root")
    with pytest.raises(ConfigError, match="at least one scope"):
        parse_scopes(" , ")


def test_made_tokens_split_and_only_their_secret_matches_the_digest() -> None:
    made = hashing.new_secret()
    assert hashing.split(made.token) == (made.token_id, made.secret)
    assert hashing.split(made.token + "x") is None
    salt = hashing.new_salt()
    digest = hashing.digest(salt, made.secret)
    assert hashing.matches(salt, made.secret, digest)
    assert not hashing.matches(salt, made.secret[:-1] + "?", digest)
    assert not hashing.matches(hashing.new_salt(), made.secret, digest)


def test_static_tokens_need_a_long_secret_and_a_known_scope() -> None:
    book = TokenBook.from_lines(["# a comment", "", "ci:submit:" + "s" * 24])
    principal = book.verify("s" * 24)
    assert principal is not None
    assert principal.name == "ci"
    assert book.verify("s" * 23) is None
    with pytest.raises(ConfigError, match="at least 24 characters"):
        TokenBook.from_lines(["ci:submit:short"])
    with pytest.raises(ConfigError, match="NAME:SCOPES:SECRET"):
        TokenBook.from_lines(["just-a-secret-with-no-colons-at-all"])


def test_the_book_fails_closed_until_the_store_was_read() -> None:
    book = TokenBook()
    assert book.required
    book.load([])
    assert not book.required
    exposed = TokenBook(open_without_tokens=False)
    exposed.load([])
    assert exposed.required
