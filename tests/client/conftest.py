"""Fixtures for the client's tests: one real ``jobqueue api`` (tokens on) with a real worker
of the dashboard tests' handlers, shared by the package; clients of it; the examples'
toolchains (skipped when missing, failing under CI=true)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from jobqueue.client import AsyncClient, Client
from tests.ui.conftest import Stack, in_ci, start_stack, wait_until

ADMIN_SECRET = "admin-secret-for-the-client-tests"
READER_SECRET = "reader-secret-for-the-client-tests"
TOKENS = f"ops:submit,read,admin,worker:{ADMIN_SECRET} viewer:read:{READER_SECRET}"
READY_S = 30.0


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API and its worker, once the worker has registered."""
    stack = start_stack(tmp_path_factory.mktemp("client"), tokens=TOKENS)
    try:
        with Client(stack.base, token=ADMIN_SECRET) as client:
            wait_until(lambda: client.list_workers().items, READY_S)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def client(stack: Stack) -> Iterator[Client]:
    """A client holding the admin token."""
    with Client(stack.base, token=ADMIN_SECRET) as client:
        yield client


@pytest.fixture
async def async_client(stack: Stack) -> AsyncIterator[AsyncClient]:
    """An asyncio client holding the admin token."""
    async with AsyncClient(stack.base, token=ADMIN_SECRET) as client:
        yield client


def require_tool(name: str) -> str:
    """The path of the command ``name``; skip without it, except under CI=true (fail)."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed"
    if in_ci():
        pytest.fail(f"{message} (CI=true: the examples' tests must run)", pytrace=False)
    pytest.skip(message)
