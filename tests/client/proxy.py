"""A TCP proxy in front of a real API that spoils the answer to the first POST it forwards.

It is the network between a client and the API, not a stand-in for the API: every request
reaches the real API and is answered by it. Only the first POST's answer is lost on the way
back, in one of three ways — the connection cut, a gateway's ``503`` with ``Retry-After: 1``
in its place, or held past the client's timeout — after the API had accepted the job.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

Fault = Literal["cut", "503", "stall"]
STALL_S = 1.5
_GATEWAY_BODY = b'{"error":{"code":"bad_gateway","message":"the upstream went away"}}'
GATEWAY_503 = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_GATEWAY_BODY), _GATEWAY_BODY)
)


@dataclass
class Seen:
    """A request the proxy forwarded: when, its first line and headers, its body, and the
    API's answer to it."""

    at: float
    line: str
    headers: dict[str, str]
    body: bytes
    answer: bytes = b""


@dataclass
class FaultyProxy:
    """Listens on 127.0.0.1 and forwards to ``upstream``, spoiling the first POST's answer."""

    upstream: tuple[str, int]
    fault: Fault
    seen: list[Seen] = field(default_factory=list)
    _spoiled: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """The base URL to give the client."""
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def posts(self) -> list[Seen]:
        """The POST requests forwarded so far."""
        return [seen for seen in self.seen if seen.line.startswith("POST ")]

    def close(self) -> None:
        """Stop listening."""
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, socket.create_connection(self.upstream) as up:
            client, api = conn.makefile("rb"), up.makefile("rb")
            while (request := _read_message(client)) is not None:
                seen = _parse(request)
                up.sendall(request)
                seen.answer = _read_message(api) or b""
                self.seen.append(seen)
                if self._should_spoil(seen):
                    self._spoil(conn)
                    return
                conn.sendall(seen.answer)

    def _should_spoil(self, seen: Seen) -> bool:
        with self._lock:
            if self._spoiled or not seen.line.startswith("POST "):
                return False
            self._spoiled = True
            return True

    def _spoil(self, conn: socket.socket) -> None:
        if self.fault == "503":
            conn.sendall(GATEWAY_503)
        elif self.fault == "stall":
            time.sleep(STALL_S)
        conn.shutdown(socket.SHUT_RDWR)


def _read_message(stream: BinaryIO) -> bytes | None:
    """One HTTP/1.1 message with a Content-Length body (or none), or None at the end."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        if not line:
            return None
        head += line
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + stream.read(length)


def _parse(message: bytes) -> Seen:
    head, _, body = message.partition(b"\r\n\r\n")
    first, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Seen(time.monotonic(), first, headers, body)
