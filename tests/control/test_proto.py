"""The proto: wire-compatible with the original's, and its generated code up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from jobqueue.control import worker_pb2

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "original_pb"


def _ours() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    worker_pb2.DESCRIPTOR.CopyToProto(proto)
    return proto


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorProto:
    """The original proto compiled to a descriptor (parsed, never loaded into the pool)."""
    out = tmp_path_factory.mktemp("original") / "original.desc"
    code = protoc.main(
        ["protoc", f"-I{FIXTURE}", f"--descriptor_set_out={out}", str(FIXTURE / "worker.proto")]
    )
    assert code == 0
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    [proto] = files.file
    return proto


def _fields(message: descriptor_pb2.DescriptorProto) -> dict[int, tuple[str, int, int, str]]:
    return {f.number: (f.name, f.type, f.label, f.type_name) for f in message.field}


def test_package_and_service_name_are_the_originals(
    original: descriptor_pb2.FileDescriptorProto,
) -> None:
    ours = _ours()
    assert ours.package == original.package == "worker"
    assert [s.name for s in ours.service] == [s.name for s in original.service]


def test_every_original_message_keeps_every_field_number_name_and_type(
    original: descriptor_pb2.FileDescriptorProto,
) -> None:
    ours = {message.name: message for message in _ours().message_type}
    for message in original.message_type:
        assert message.name in ours, message.name
        mine = _fields(ours[message.name])
        for number, field in _fields(message).items():
            assert mine.get(number) == field, f"{message.name} field {number}"


def test_every_original_rpc_keeps_its_request_and_reply(
    original: descriptor_pb2.FileDescriptorProto,
) -> None:
    [service] = original.service
    [our_service] = _ours().service
    ours = {m.name: m for m in our_service.method}
    for method in service.method:
        mine = ours[method.name]
        assert (mine.input_type, mine.output_type) == (method.input_type, method.output_type)
        assert not mine.client_streaming
        assert not mine.server_streaming


def test_the_fixture_is_the_original_proto_verbatim() -> None:
    spec = Path("/work/shared/SPEC-proto.md")
    if not spec.exists():
        pytest.skip("the specification is not beside the repository")
    text = spec.read_text()
    verbatim = text.split("```proto\n", 1)[1].split("```", 1)[0]
    assert (FIXTURE / "worker.proto").read_text() == verbatim


def test_generated_code_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "proto"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
