"""Real `jobqueue api` and `jobqueue worker` processes on free ports, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.services import free_port


class Process:
    """A `python -m jobqueue ...` child process logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jobqueue", *args],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM the process (unless it exited) and wait; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        finally:
            self._log.close()

    def output(self) -> str:
        """What the process logged so far."""
        return self.log_path.read_text(errors="replace")


class Api(Process):
    """A `jobqueue api` process with a SQLite broker, on free HTTP and gRPC ports."""

    def __init__(self, tmp_path: Path, name: str, registry_url: str = "") -> None:
        self.http_port, self.grpc_port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.http_port}"
        self.broker_url = f"sqlite:///{tmp_path / name}.db"
        env = {
            "JOBQUEUE_BROKER_URL": self.broker_url,
            "JOBQUEUE_HTTP_ADDR": f"127.0.0.1:{self.http_port}",
            "JOBQUEUE_GRPC_ADDR": f"127.0.0.1:{self.grpc_port}",
            "JOBQUEUE_REGISTRY_URL": registry_url,
        }
        super().__init__(["api"], env, tmp_path / f"{name}.log")

    async def ready(self) -> bool:
        """True once the API answers GET /workers."""
        assert self.process.poll() is None, f"the API process exited:\n{self.output()}"
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=1.0) as client:
                return (await client.get("/workers")).status_code == 200
        except httpx.HTTPError:
            return False
