"""Changes a browser sends on behalf of another site are refused, with tokens on or off;
the same-origin dashboard, plain clients and reads pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.auth.audit import AuditTrail
from jobqueue.auth.book import TokenBook, refresh_once
from jobqueue.auth.http import HttpAuth
from jobqueue.brokers import Broker
from jobqueue.store import default_store_url
from tests.api.conftest import JSON, asgi_client
from tests.store.conftest import open_store

JOB = b'{"type": "email", "payload": {}}'


@pytest.fixture
async def open_api(broker: Broker, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind its gate with authentication off (loopback, no token), as by default."""
    async with open_store(default_store_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")) as store:
        book = TokenBook(open_without_tokens=True)
        await refresh_once(book, store)  # no token stored: authentication off
        auth = HttpAuth(book, AuditTrail(store))
        app = create_app(broker, tracking=Tracking(store), auth=auth)
        async with asgi_client(app) as client:
            yield client


@pytest.mark.parametrize("site", ["cross-site", "same-site", "Cross-Site"])
async def test_a_foreign_sites_change_is_refused(open_api: httpx.AsyncClient, site: str) -> None:
    for method, path in (("POST", "/dlq/replay"), ("DELETE", "/dlq"), ("POST", "/jobs")):
        answer = await open_api.request(
            method, path, content=JOB, headers={**JSON, "Sec-Fetch-Site": site}
        )
        assert answer.status_code == 403, (method, path)
        assert answer.json()["error"]["code"] == "cross_site"


async def test_same_origin_plain_clients_and_reads_pass(open_api: httpx.AsyncClient) -> None:
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}):
        answer = await open_api.post("/jobs", content=JOB, headers={**JSON, **headers})
        assert answer.status_code == 202, headers
    answer = await open_api.get("/jobs", headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 200
