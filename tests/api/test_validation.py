"""Bad submissions: each answered with a JSON error naming the problem, never a 500."""

from __future__ import annotations

import httpx
import pytest

from jobqueue.brokers import Broker
from tests.api.conftest import JSON


def _error(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"] == "application/json"
    error: dict[str, str] = response.json()["error"]
    assert set(error) == {"code", "message"}
    return error


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        (b'{"type": "email", ', 400, "not valid JSON"),
        (b"", 400, "body is empty"),
        (b"   ", 400, "body is empty"),
        (b"\xff\xfe{}", 400, "not valid UTF-8"),
        (b'{"type": "\xe9"}', 400, "not valid UTF-8"),
        ('{"type": "t"}'.encode("utf-16"), 400, "not valid UTF-8"),
        (b'{"type": "t", "payload": NaN}', 400, "NaN is not valid JSON"),
        (b'{"type": "t", "payload": 1e999}', 400, "out of range"),
        (b"[" * 5000 + b"]" * 5000, 400, "nested too deeply"),
        (b"[]", 422, "body: must be a JSON object, got an array"),
        (b'"email"', 422, "body: must be a JSON object, got a string"),
        (b"null", 422, "body: must be a JSON object, got null"),
        (b"42", 422, "body: must be a JSON object, got a number"),
        (b"{}", 422, "type: is required"),
        (b'{"payload": {}}', 422, "type: is required"),
        (b'{"type": null}', 422, "type: is required"),
        (b'{"type": ""}', 422, "type: must not be empty"),
        (b'{"type": "   "}', 422, "type: must not be empty"),
        (b'{"type": 5}', 422, "type: must be a string, got a number"),
        (b'{"type": ["a"]}', 422, "type: must be a string, got an array"),
        (b'{"type": true}', 422, "type: must be a string, got a boolean"),
        (b'{"type": "' + b"x" * 201 + b'"}', 422, "type: must be at most 200 characters"),
        (b'{"type": "a\\nb"}', 422, "type: control character '\\n' at position 1"),
        (b'{"type": "a\\u0007"}', 422, "type: control character"),
        (b'{"type": "tab\\tbed"}', 422, "type: control character"),
        (b'{"type": "a\\u0000"}', 422, "type: contains a NUL character at position 1"),
        (b'{"type": "\\ud800x"}', 422, "type: contains a lone surrogate at position 0"),
        (b'{"type": "t", "extra": 1, "more": 2}', 422, "unknown field(s) 'extra', 'more'"),
        (b'{"type": "t", "id": "mine"}', 422, "unknown field(s) 'id'"),
        (b'{"type": "t", "payload": {"a": "x\\u0000"}}', 422, "payload.a: contains a NUL"),
        (b'{"type": "t", "payload": {"k\\u0000": 1}}', 422, "payload: key 'k\\x00'"),
        (b'{"type": "t", "payload": [1, ["\\udc00"]]}', 422, "payload[1][0]: contains a lone"),
        (b'{"type": "t", "payload": {"\\ud83d": 1}}', 422, "lone surrogate"),
        (b'{"type": "t", "max_attempts": 0}', 422, "max_attempts: must be an integer from 1"),
        (b'{"type": "t", "max_attempts": 101}', 422, "max_attempts: must be an integer from 1"),
        (b'{"type": "t", "max_attempts": 2.5}', 422, "max_attempts"),
        (b'{"type": "t", "max_attempts": "3"}', 422, "max_attempts"),
        (b'{"type": "t", "max_attempts": true}', 422, "max_attempts"),
        (b'{"type": "t", "payload": ' + b"[" * 150 + b"]" * 150 + b"}", 422, "nested deeper"),
    ],
)
async def test_bad_body_is_refused_naming_the_problem(
    client: httpx.AsyncClient, broker: Broker, body: bytes, status: int, named: str
) -> None:
    response = await client.post("/jobs", content=body, headers=JSON)

    assert response.status_code == status, response.text
    assert named in _error(response)["message"]
    assert (await broker.depth()).ready == 0


async def test_type_of_exactly_200_characters_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/jobs", json={"type": "é" * 200})

    assert response.status_code == 202


async def test_non_ascii_type_and_payload_keys_are_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/jobs", json={"type": "メール", "payload": {"clé": "✓"}})

    assert response.status_code == 202
    assert response.json()["payload"] == {"clé": "✓"}


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/jsonp",
    ],
)
async def test_wrong_content_type_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = await client.post("/jobs", content=b'{"type": "t"}', headers=headers)

    assert response.status_code == 415
    error = _error(response)
    assert error["code"] == "unsupported_media_type"
    assert "application/json" in error["message"]


async def test_content_type_is_checked_on_batches_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/jobs/batch", content=b'{"jobs": [{"type": "t"}]}', headers={"Content-Type": "text/xml"}
    )

    assert response.status_code == 415


ODD_BODIES = [
    b"{",
    b"}",
    b"[",
    b"nul",
    b"true",
    b"false",
    b"-",
    b"1e",
    b"0x10",
    b'"\\x"',
    b'"\\u12"',
    b'{"type"}',
    b'{"type": }',
    b'{"type": "t",}',
    b'{"type": "t"} trailing',
    b'{"type": "t"}{"type": "t"}',
    b"{'type': 't'}",
    b'{"type": "t", "payload": Infinity}',
    b'{"type": "t", "payload": -Infinity}',
    b'{"type": "t", "payload": ' + b"9" * 5000 + b"}",
    b"\x00",
    b"\xc3\x28",
    b"\xef\xbb\xbf{}",
    b'{"type": {"nested": "object"}}',
    b'{"type": "t", "payload": {"a": {"b": {"c": "\\u0000"}}}}',
    b'{"type": "t", "max_attempts": null, "x": null}',
    b'{"type": "t", "max_attempts": 1e2}',
    b'{"type": "t", "max_attempts": -1}',
    b'{"type": "t", "max_attempts": 123456789012345678901234567890}',
    b'{"jobs": null, "type": null}',
    b"\t\r\n",
    b'{"__proto__": {"type": "t"}}',
]


@pytest.mark.parametrize("body", ODD_BODIES)
@pytest.mark.parametrize("path", ["/jobs", "/jobs/batch"])
async def test_odd_bodies_get_a_4xx_json_error_never_a_500(
    client: httpx.AsyncClient, path: str, body: bytes
) -> None:
    response = await client.post(path, content=body, headers=JSON)

    assert 400 <= response.status_code < 500, response.text
    assert _error(response)["message"]
