"""Safe defaults and tokens end to end: a real ``jobqueue api`` process, the ``jobqueue token``
and ``audit`` commands, and ``JOBQUEUE_TOKEN`` read by the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.test_serve import api_process
from tests.services import free_port

JSON = {"Content-Type": "application/json"}


def jobqueue(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a ``jobqueue`` command in ``tmp_path``."""
    return subprocess.run(
        [sys.executable, "-m", "jobqueue", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
        timeout=timeout_s,
        check=False,
    )


def create_token(tmp_path: Path, name: str, scopes: str) -> str:
    """``jobqueue token create``: the secret it printed (its last line)."""
    made = jobqueue(tmp_path, "token", "create", name, "--scope", scopes)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def test_an_api_beyond_loopback_with_no_token_refuses_to_start(tmp_path: Path) -> None:
    result = jobqueue(
        tmp_path, "api", "--http-addr", f"0.0.0.0:{free_port()}", "--grpc-addr", "127.0.0.1:0"
    )
    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "with no API token would let anyone in" in line
    assert "--insecure" in line
    assert "Traceback" not in result.stderr


async def test_insecure_serves_open_beyond_loopback_and_warns(tmp_path: Path) -> None:
    port = free_port()
    async with api_process(tmp_path, "--http-addr", f"0.0.0.0:{port}", "--insecure") as api:
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/jobs")
        assert answer.status_code == 200
        await api.stop()
    assert "INSECURE: listening on 0.0.0.0:" in api.log.read_text()


async def test_tokens_made_by_the_cli_open_the_api_to_their_scopes(tmp_path: Path) -> None:
    submitter = create_token(tmp_path, "billing", "submit")
    operator = create_token(tmp_path, "ops", "admin")
    listed = jobqueue(tmp_path, "token", "list", "--json")
    assert listed.returncode == 0
    assert submitter not in listed.stdout
    assert '"billing"' in listed.stdout
    async with api_process(tmp_path) as api:
        url = api.base_url
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.post("/jobs", json={"type": "email"})).status_code == 401
            bearer = {"Authorization": f"Bearer {submitter}"}
            answer = await client.post("/jobs", json={"type": "email"}, headers=bearer)
            assert answer.status_code == 202
            job_id = answer.json()["id"]
        anonymous = jobqueue(tmp_path, "jobs", "--api-url", url)
        assert anonymous.returncode == 1
        assert anonymous.stderr.startswith("error: the API answered 401")
        as_ops = {"JOBQUEUE_TOKEN": operator}
        assert job_id in jobqueue(tmp_path, "jobs", "--api-url", url, env=as_ops).stdout
        workers = jobqueue(tmp_path, "workers", "drain", "w-9", "--api-url", url, env=as_ops)
        assert workers.returncode == 1
        audit = jobqueue(tmp_path, "audit", "--api-url", url, "--json", env=as_ops)
        assert audit.returncode == 0, audit.stderr
        assert '"action": "worker.drain"' in audit.stdout
        assert '"actor": "ops"' in audit.stdout
        await api.stop()


async def test_a_token_revoked_by_the_cli_is_refused_by_a_running_api(tmp_path: Path) -> None:
    reader = create_token(tmp_path, "dash", "read")
    async with api_process(tmp_path) as api:
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            bearer = {"Authorization": f"Bearer {reader}"}
            assert (await client.get("/jobs", headers=bearer)).status_code == 200
            revoked = jobqueue(tmp_path, "token", "revoke", "dash")
            assert revoked.returncode == 0
            assert "revoked" in revoked.stdout
            for _ in range(50):
                if (await client.get("/jobs", headers=bearer)).status_code == 401:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the revoked token was still accepted after 10 s")
        await api.stop()
    again = jobqueue(tmp_path, "token", "revoke", "dash")
    assert again.returncode == 1
    assert again.stderr.strip() == "error: no active token named 'dash'"


def test_token_create_refuses_bad_scopes_and_names_in_one_line(tmp_path: Path) -> None:
    bad_scope = jobqueue(tmp_path, "token", "create", "x", "--scope", "submit,root")
    assert bad_scope.returncode == 1
    assert bad_scope.stderr.strip() == (
        "error: unknown scope 'root' (the scopes: submit, read, admin, worker)"
    )
    bad_name = jobqueue(tmp_path, "token", "create", "a b\x1b[31m", "--scope", "read")
    assert bad_name.returncode == 1
    assert "\x1b" not in bad_name.stderr
    assert "\\x1b" in bad_name.stderr
    made = jobqueue(tmp_path, "token", "create", "twice", "--scope", "read")
    assert made.returncode == 0
    twice = jobqueue(tmp_path, "token", "create", "twice", "--scope", "read")
    assert twice.returncode == 1
    assert twice.stderr.strip() == "error: a token named 'twice' already exists"


async def test_tokens_from_a_file_and_the_environment_are_accepted(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("# deploy secrets\nci:submit,read:" + "f" * 32 + "\n")
    env = {"JOBQUEUE_TOKENS": "probe:read:" + "e" * 30}
    async with api_process(tmp_path, "--tokens-file", str(tokens_file), env=env) as api:
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            assert (await client.get("/jobs")).status_code == 401
            for secret in ("f" * 32, "e" * 30):
                answer = await client.get("/jobs", headers={"Authorization": f"Bearer {secret}"})
                assert answer.status_code == 200
            as_probe = {"Authorization": "Bearer " + "e" * 30}
            assert (
                await client.post("/jobs", json={"type": "t"}, headers=as_probe)
            ).status_code == 403
        await api.stop()
