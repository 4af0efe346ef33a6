"""The original system's worker, as far as the wire goes: a client generated from its proto.

Run as a script, in a process of its own: the original's generated module declares the same
protobuf names (package ``worker``) as ours, and one process's descriptor pool holds only one
of them. It never imports jobqueue.

    python tests/control/original_client.py HOST:PORT WORKER_ID

prints one JSON object with what each call answered (a status, or a gRPC status code name).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "original_pb"))

import grpc
import worker_pb2  # type: ignore[import-not-found]
import worker_pb2_grpc  # type: ignore[import-not-found]

TIMEOUT_S = 5.0


def _call(method: Any, request: Any) -> Any:
    try:
        return method(request, timeout=TIMEOUT_S)
    except grpc.RpcError as exc:
        return exc.code().name


def _status(method: Any, request: Any) -> str:
    reply = _call(method, request)
    return reply if isinstance(reply, str) else reply.status


def _workers(stub: Any) -> list[dict[str, Any]]:
    reply = stub.ListWorkers(worker_pb2.Empty(), timeout=TIMEOUT_S)
    return [
        {"worker_id": w.worker_id, "last_seen_unix": w.last_seen_unix, "load": w.load}
        for w in reply.workers
    ]


def main(target: str, worker_id: str) -> dict[str, Any]:
    """Talk to the API as the original worker does, then try what it should not do."""
    with grpc.insecure_channel(target) as channel:
        stub = worker_pb2_grpc.WorkerServiceStub(channel)
        answers: dict[str, Any] = {
            "register": _status(stub.Register, worker_pb2.RegisterRequest(worker_id=worker_id)),
            "heartbeat": _status(
                stub.Heartbeat, worker_pb2.HeartbeatRequest(worker_id=worker_id, load=1)
            ),
        }
        answers["workers"] = _workers(stub)
        answers["unknown_heartbeat"] = _status(
            stub.Heartbeat, worker_pb2.HeartbeatRequest(worker_id=f"{worker_id}-unknown", load=0)
        )
        answers["workers_after_unknown"] = _workers(stub)
        answers["empty_id"] = _status(stub.Register, worker_pb2.RegisterRequest(worker_id=""))
        answers["long_id"] = _status(stub.Register, worker_pb2.RegisterRequest(worker_id="x" * 201))
        answers["negative_load"] = _status(
            stub.Heartbeat, worker_pb2.HeartbeatRequest(worker_id=worker_id, load=-1)
        )
        return answers


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
