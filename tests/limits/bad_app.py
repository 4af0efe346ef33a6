"""A handler declaration with a rate that is nonsense: loading it must fail in one line."""

from __future__ import annotations

from jobqueue.handlers import Handlers

handlers = Handlers()


@handlers.job("sync", rate="10/fortnight")
def sync(payload: object) -> None:
    """Never runs: the declaration is refused."""
