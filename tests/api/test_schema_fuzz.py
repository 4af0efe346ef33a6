"""schemathesis against a real API server: every operation, every check, nothing reported.

The server is uvicorn in a thread serving the whole app (job store, worker registry) on an
embedded SQLite broker in the test's directory. ``HEADERS`` are sent with every request;
a run with a token adds a parameter (``{"Authorization": "Bearer ..."}``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.auth.audit import AuditTrail
from jobqueue.auth.book import TokenBook
from jobqueue.auth.http import HttpAuth
from jobqueue.brokers import from_url
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.store import from_url as store_from_url
from tests.services import free_port

MAX_EXAMPLES = 5
RUN_TIMEOUT_S = 240

# What the checks must allow that a schema cannot say: a cursor the store did not make is a
# 400 (cursors are opaque), a reused idempotency key with another body a 422, as is a cron
# expression or time zone that does not parse. DELETE
# /jobs/{id} cancels a job, which stays readable, so use_after_free does not apply. A wait
# is fixed at 0 s so no request waits a minute for a job that nobody runs.
CONFIG = """
[parameters]
"query.wait" = 0

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", 400, 401, 403, 404, 409, 429]

[[operations]]
include-path-regex = "^/jobs(/batch)?$"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409, 422, 429]

[[operations]]
include-path-regex = "^/schedules"
include-method = ["POST", "PATCH"]
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409, 422, 429]
"""


class ThreadedApi:
    """The app over a SQLite broker and store in ``directory``, served by uvicorn in a thread."""

    def __init__(self, directory: Path, token: str | None = None) -> None:
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._directory = directory
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    def __enter__(self) -> ThreadedApi:
        self._thread.start()
        deadline = time.monotonic() + 20
        while self._server is None or not self._server.started:
            assert self._thread.is_alive(), "the test API stopped"
            assert time.monotonic() < deadline, "the test API did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.should_exit = True
        self._thread.join(timeout=30)

    async def _serve(self) -> None:
        broker = from_url(f"sqlite:///{self._directory / 'jobqueue.db'}")
        store = store_from_url(f"sqlite:///{self._directory / 'jobqueue-state.db'}")
        await broker.connect()
        await store.connect()
        await store.upgrade()
        auth = None
        if self.token is not None:  # the API gated, the token granting every HTTP scope
            book = TokenBook.from_lines([f"fuzz:submit,read,admin:{self.token}"])
            book.load([])
            auth = HttpAuth(book, AuditTrail(store))
        app = create_app(broker, InMemoryRegistry(), tracking=Tracking(store), auth=auth)
        config = uvicorn.Config(app, port=self.port, log_config=None, lifespan="off")
        self._server = uvicorn.Server(config)
        try:
            await self._server.serve()
        finally:
            await store.close()
            await broker.close()


TOKEN = "fuzz-" + "t" * 40


@pytest.fixture(params=[None, TOKEN], ids=["open, no token", "gated, with a token"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThreadedApi]:
    with ThreadedApi(tmp_path, request.param) as server:
        yield server


def _header_options(headers: dict[str, str]) -> list[str]:
    return [option for name, value in headers.items() for option in ("-H", f"{name}: {value}")]


@pytest.mark.slow
def test_schemathesis_finds_nothing(api: ThreadedApi, tmp_path: Path) -> None:
    headers = {} if api.token is None else {"Authorization": f"Bearer {api.token}"}
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
            f"{api.url}/openapi.json",
            *("--checks", "all", "--exclude-checks", "use_after_free"),
            *("--max-examples", str(MAX_EXAMPLES), "--workers", "1"),
            *("--request-timeout", "10", "--no-color", "--seed", "1"),
            *_header_options(headers),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stdout[-20000:] + completed.stderr[-5000:]


def test_the_schema_says_what_the_validation_enforces(api: ThreadedApi) -> None:
    schema = httpx.get(f"{api.url}/openapi.json").json()

    def query(path: str, name: str) -> dict[str, object]:
        [param] = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name]
        return dict(param["schema"].get("anyOf", [param["schema"]])[0])

    assert query("/jobs", "cursor")["minLength"] == 1
    assert query("/jobs", "type")["maxLength"] == 200
    assert "pattern" in query("/jobs", "type")
    assert query("/jobs/{job_id}", "wait")["maximum"] == 60
    assert query("/workers", "limit")["maximum"] == 1000
    assert query("/workers", "cursor")["maxLength"] == 128
    [key] = schema["paths"]["/jobs"]["post"]["parameters"]
    assert (key["name"], key["schema"]["anyOf"][0]["maxLength"]) == ("Idempotency-Key", 255)
