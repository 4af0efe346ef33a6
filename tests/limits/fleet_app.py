"""Handlers for the fleet tests: each writes when it started and ended, for the checks after."""

from __future__ import annotations

import os
import time
from typing import Any

from jobqueue.handlers import Handlers

handlers = Handlers()


def _stamp(kind: str, key: str, started: float) -> None:
    folder = os.environ["LIMITS_TEST_STAMPS"]
    with open(os.path.join(folder, f"{os.getpid()}.log"), "a") as log:
        log.write(f"{kind} {key} {started:.6f} {time.time():.6f}\n")


@handlers.job("limited", concurrency=2, concurrency_key=lambda payload: payload["key"])
def limited(payload: dict[str, Any]) -> None:
    started = time.time()
    time.sleep(payload.get("sleep_s", 0.01))
    _stamp("limited", payload["key"], started)


@handlers.job("paced", rate="5/s")
def paced(payload: dict[str, Any]) -> None:
    _stamp("paced", "-", time.time())


@handlers.job("free")
def free(payload: dict[str, Any]) -> None:
    _stamp("free", "-", time.time())


@handlers.job("hold", concurrency=1)
def hold(payload: dict[str, Any]) -> None:
    started = time.time()
    time.sleep(payload["sleep_s"])
    _stamp("hold", "-", started)
