"""The HTTP gate on the real app (SQLite broker and store): 401, 403 naming the scope, each
scope's routes, the submit shortcuts behind it, the audit log of admin actions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.auth import hashing
from jobqueue.auth.audit import AuditTrail
from jobqueue.auth.book import TokenBook, refresh_once
from jobqueue.auth.http import HttpAuth
from jobqueue.auth.records import TokenRecord
from jobqueue.brokers import Broker
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.store import Store, default_store_url
from jobqueue.store.events import utc_now
from tests.api.conftest import JSON, asgi_client
from tests.store.conftest import open_store

JOB = b'{"type": "email", "payload": {}}'


async def add_token(store: Store, name: str, *scopes: str) -> str:
    """Store a token as ``jobqueue token create`` does; its secret."""
    made = hashing.new_secret()
    salt = hashing.new_salt()
    digest = hashing.digest(salt, made.secret)
    await store.add_token(
        TokenRecord(name, made.token_id, salt, digest, frozenset(scopes), utc_now())
    )
    return made.token


class Gated:
    """The app behind its gate, its store and book, and a token per scope."""

    def __init__(self, client: httpx.AsyncClient, store: Store, book: TokenBook) -> None:
        self.client, self.store, self.book = client, store, book
        self.tokens: dict[str, str] = {}

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture
async def gated(broker: Broker, tmp_path: Path) -> AsyncIterator[Gated]:
    store_url = default_store_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")
    async with open_store(store_url) as store:
        book = TokenBook()
        app = create_app(
            broker,
            InMemoryRegistry(),
            tracking=Tracking(store),
            auth=HttpAuth(book, AuditTrail(store)),
        )
        async with asgi_client(app) as client:
            gated = Gated(client, store, book)
            for scope in ("submit", "read", "admin", "worker"):
                gated.tokens[scope] = await add_token(store, scope, scope)
            await refresh_once(book, store)
            yield gated


async def test_no_token_is_a_401_with_a_bearer_challenge(gated: Gated) -> None:
    answer = await gated.client.get("/jobs")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="jobqueue"'
    assert answer.json()["error"]["code"] == "unauthorized"
    assert "Authorization: Bearer" in answer.json()["error"]["message"]


async def test_an_unknown_or_altered_token_is_a_401_invalid_token(gated: Gated) -> None:
    altered = gated.tokens["read"][:-1] + ("A" if gated.tokens["read"][-1] != "A" else "B")
    for token in ("nonsense", altered, "jq_000000000000_" + "x" * 43):
        answer = await gated.client.get("/jobs", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, token
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


async def test_a_token_without_the_scope_is_a_403_naming_it(gated: Gated) -> None:
    answer = await gated.client.post("/jobs", content=JOB, headers={**JSON, **gated.auth("read")})
    assert answer.status_code == 403
    assert answer.json()["error"] == {
        "code": "forbidden",
        "message": "this token lacks the 'submit' scope, which POST /jobs needs",
    }
    answer = await gated.client.get("/jobs", headers=gated.auth("submit"))
    assert answer.status_code == 403
    assert "'read' scope" in answer.json()["error"]["message"]


async def test_each_scope_opens_its_routes(gated: Gated) -> None:
    submitted = await gated.client.post(
        "/jobs", content=JOB, headers={**JSON, **gated.auth("submit")}
    )
    assert submitted.status_code == 202
    batch = await gated.client.post(
        "/jobs/batch", content=b'{"jobs": [' + JOB + b"]}", headers={**JSON, **gated.auth("submit")}
    )
    assert batch.status_code == 202
    job_id = submitted.json()["id"]
    for path in (f"/jobs/{job_id}", "/jobs", f"/jobs/{job_id}/events", "/dlq", "/workers"):
        assert (await gated.client.get(path, headers=gated.auth("read"))).status_code == 200
        assert (await gated.client.get(path, headers=gated.auth("admin"))).status_code == 200
        assert (await gated.client.get(path, headers=gated.auth("worker"))).status_code == 403
    cancel = await gated.client.delete(f"/jobs/{job_id}", headers=gated.auth("read"))
    assert cancel.status_code == 403
    cancel = await gated.client.delete(f"/jobs/{job_id}", headers=gated.auth("admin"))
    assert cancel.status_code == 200


async def test_health_and_docs_stay_open_and_probes_need_read(gated: Gated) -> None:
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert (await gated.client.get(path)).status_code == 200, path
    assert (await gated.client.get("/readyz")).status_code == 401
    assert (await gated.client.get("/readyz", headers=gated.auth("read"))).status_code == 200


async def test_a_revoked_token_is_refused_after_the_next_refresh(gated: Gated) -> None:
    assert (await gated.client.get("/jobs", headers=gated.auth("read"))).status_code == 200
    assert await gated.store.revoke_token("read")
    await refresh_once(gated.book, gated.store)
    assert (await gated.client.get("/jobs", headers=gated.auth("read"))).status_code == 401


async def test_admin_actions_and_refusals_are_audited_with_who_what_and_how_many(
    gated: Gated,
) -> None:
    submitted = await gated.client.post(
        "/jobs", content=JOB, headers={**JSON, **gated.auth("submit")}
    )
    job_id = submitted.json()["id"]
    await gated.client.delete(f"/jobs/{job_id}", headers=gated.auth("admin"))
    await gated.client.delete("/dlq", headers=gated.auth("admin"))
    await gated.client.post("/workers/w-1/drain", headers=gated.auth("read"))
    assert (await gated.client.get("/audit", headers=gated.auth("read"))).status_code == 403
    answer = await gated.client.get("/audit", headers=gated.auth("admin"))
    assert answer.status_code == 200
    entries = answer.json()["entries"]
    summary = [(e["actor"], e["action"], e["target"], e["count"], e["status"]) for e in entries]
    assert summary == [
        ("read", "worker.drain", "w-1", None, 403),
        ("admin", "dlq.purge", "all", 0, 200),
        ("admin", "job.cancel", job_id, 1, 200),
    ]
    assert all(e["client"] and e["token_id"] for e in entries)


async def test_the_schema_declares_the_bearer_scheme_on_gated_operations(gated: Gated) -> None:
    schema = (await gated.client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    assert schema["paths"]["/jobs"]["post"]["security"] == [{"bearerToken": []}]
    assert "401" in schema["paths"]["/jobs"]["post"]["responses"]
    assert "security" not in schema["paths"]["/healthz"]["get"]


async def test_with_no_token_anywhere_on_loopback_everything_is_open(
    broker: Broker, tmp_path: Path
) -> None:
    async with open_store(default_store_url(f"sqlite:///{tmp_path / 'open.db'}")) as store:
        book = TokenBook()
        await refresh_once(book, store)
        app = create_app(broker, tracking=Tracking(store), auth=HttpAuth(book, AuditTrail(store)))
        async with asgi_client(app) as client:
            assert (await client.post("/jobs", content=JOB, headers=JSON)).status_code == 202
            assert (await client.get("/jobs")).status_code == 200
            schema = (await client.get("/openapi.json")).json()
            assert "securitySchemes" not in schema.get("components", {})
