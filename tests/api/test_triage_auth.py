"""The triage and bulk routes behind the token gate: a read token may look but not act, and
every action is audited with its name, target, count and (bulk) detail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.auth.audit import AuditTrail
from jobqueue.auth.book import TokenBook, refresh_once
from jobqueue.auth.http import HttpAuth
from jobqueue.auth.scopes import Scope, needed_scope
from jobqueue.brokers import Broker, Death
from jobqueue.job import Job
from jobqueue.store import Store, default_store_url
from tests.api.conftest import asgi_client, make_dead
from tests.auth.test_gate import add_token
from tests.store.conftest import open_store

ACTIONS = [
    ("POST", "/jobs/bulk", {"action": "cancel", "ids": ["x"]}),
    ("POST", "/dlq/groups/0123456789ab/replay", None),
    ("DELETE", "/dlq/groups/0123456789ab", None),
    ("POST", "/dlq/replay-selected", {"ids": ["x"]}),
    ("POST", "/dlq/replay?per_second=5", None),
]


class Gated:
    def __init__(self, client: httpx.AsyncClient, app: FastAPI, store: Store) -> None:
        self.client, self.app, self.store = client, app, store
        self.headers: dict[str, dict[str, str]] = {}


@pytest.fixture
async def gated(broker: Broker, tmp_path: Path) -> AsyncIterator[Gated]:
    async with open_store(default_store_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")) as store:
        book = TokenBook()
        app = create_app(broker, tracking=Tracking(store), auth=HttpAuth(book, AuditTrail(store)))
        async with asgi_client(app) as client:
            gated = Gated(client, app, store)
            for scope in ("read", "admin"):
                token = await add_token(store, scope, scope)
                gated.headers[scope] = {"Authorization": f"Bearer {token}"}
            await refresh_once(book, store)
            yield gated


def test_bulk_is_an_admin_action_and_not_a_submission() -> None:
    assert needed_scope("POST", "/jobs/bulk") is Scope.ADMIN
    assert needed_scope("POST", "/jobs") is Scope.SUBMIT
    assert needed_scope("GET", "/dlq/groups") is Scope.READ


@pytest.mark.parametrize(("method", "path", "body"), ACTIONS)
async def test_a_read_token_may_not_act(gated: Gated, method: str, path: str, body: object) -> None:
    answer = await gated.client.request(method, path, json=body, headers=gated.headers["read"])

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert "'admin'" in answer.json()["error"]["message"]


async def test_a_read_token_may_look_at_the_groups(gated: Gated) -> None:
    answer = await gated.client.get("/dlq/groups", headers=gated.headers["read"])

    assert answer.status_code == 200
    assert answer.json() == {"groups": [], "scanned": 0}


async def test_group_actions_are_audited_with_their_fingerprint_and_count(
    gated: Gated, broker: Broker
) -> None:
    jobs = [Job(type="email", payload={"n": n}) for n in range(4)]
    errors = {
        job.id: f"KeyError: {job.id}" if n < 3 else "TypeError: x" for n, job in enumerate(jobs)
    }
    await make_dead(broker, jobs, lambda job: Death("max_attempts", error=errors[job.id]))
    admin = gated.headers["admin"]
    [group, other] = (await gated.client.get("/dlq/groups", headers=admin)).json()["groups"]
    fingerprint = group["fingerprint"]

    replay = await gated.client.post(f"/dlq/groups/{fingerprint}/replay", headers=admin)
    await gated.app.state.replays.wait()
    purge = await gated.client.delete(f"/dlq/groups/{other['fingerprint']}", headers=admin)
    chosen = await gated.client.post(
        "/dlq/replay-selected", json={"ids": ["a", "b"]}, headers=admin
    )

    assert (replay.status_code, purge.status_code, chosen.status_code) == (202, 200, 202)
    entries = (await gated.client.get("/audit", headers=admin)).json()["entries"]
    found = {(e["action"], e["target"], e["count"], e["status"]) for e in entries}
    assert found == {
        ("dlq.replay_group", fingerprint, 3, 202),
        ("dlq.purge_group", other["fingerprint"], 1, 200),
        ("dlq.replay_selected", "all", 2, 202),
    }


async def test_a_bulk_action_is_audited_with_what_it_matched_and_skipped(gated: Gated) -> None:
    admin = gated.headers["admin"]
    body = {"action": "delete", "ids": ["a", "b"], "dry_run": False}

    answer = await gated.client.post("/jobs/bulk", json=body, headers=admin)
    refused = await gated.client.post("/jobs/bulk", json=body, headers=gated.headers["read"])

    assert answer.json() == {"matched": 2, "done": 0, "skipped": 2, "truncated": False}
    assert refused.status_code == 403
    [denied, done] = (await gated.client.get("/audit", headers=admin)).json()["entries"]
    assert (done["action"], done["target"], done["count"], done["status"]) == (
        "job.bulk_delete",
        "ids",
        0,
        200,
    )
    assert done["detail"] == {
        "matched": 2,
        "done": 0,
        "skipped": 2,
        "truncated": False,
        "dry_run": False,
    }
    assert (denied["actor"], denied["status"], denied["action"]) == ("read", 403, "job.bulk")
